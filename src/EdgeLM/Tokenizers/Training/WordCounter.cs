// Pre-tokenizes a corpus exactly as the encoder will (the engine's PreTokenizer for the chosen
// llama.cpp pre-tokenizer name) and counts each distinct piece. Documents are cut into chunks at
// points where no pre-token can span (after a '\n' followed by a non-space character) and at
// special-token occurrences (which are dropped), so chunks are counted in parallel, one dictionary
// per thread. Not the BPE itself (BpeTrainer) and not the Chinese word segmentation (CjkSegmenter).
using System.Text;

namespace EdgeLM.Tokenizers.Training;

internal static class WordCounter
{
    const int ChunkChars = 1 << 16;

    /// <summary>Distinct pre-tokens (plain UTF-16 text) and how often each occurs.</summary>
    public static Dictionary<string, long> Count(List<string> docs, string pre, IReadOnlyList<string> specials, int threads,
        IProgress<(int Done, int Total)>? progress, CancellationToken cancel)
    {
        var chunks = new List<(string Doc, int Start, int Length)>();
        foreach (string d in docs) Chunk(d, specials, chunks);
        long totalChars = 0;
        foreach (var c in chunks) totalChars += c.Length;
        int totalKb = (int)Math.Max(1, totalChars / 1024);
        long doneChars = 0;
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        var gate = new object();
        var po = new ParallelOptions { CancellationToken = cancel, MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount };
        Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(0, chunks.Count, 4), po,
            () => new Worker(pre),
            (range, _, w) =>
            {
                for (int i = range.Item1; i < range.Item2; i++)
                {
                    cancel.ThrowIfCancellationRequested();
                    var c = chunks[i];
                    w.Add(c.Doc.AsSpan(c.Start, c.Length));
                    long done = Interlocked.Add(ref doneChars, c.Length);
                    lock (gate) progress?.Report(((int)Math.Min(totalKb, done / 1024), totalKb));
                }
                return w;
            },
            w =>
            {
                lock (gate)
                    foreach (var (k, v) in w.Counts) result[k] = result.GetValueOrDefault(k) + v;
            });
        return result;
    }

    /// <summary>Cuts a document at special tokens (dropped) and at safe line starts into pieces of about ChunkChars.</summary>
    internal static void Chunk(string doc, IReadOnlyList<string> specials, List<(string, int, int)> into)
    {
        int pos = 0;
        while (pos < doc.Length)
        {
            int cut = doc.Length, skip = 0;
            foreach (string s in specials)
            {
                int at = doc.IndexOf(s, pos, StringComparison.Ordinal);
                if (at >= 0 && at < cut) { cut = at; skip = s.Length; }
            }
            SplitSafely(doc, pos, cut, into);
            pos = cut + skip;
        }
    }

    static void SplitSafely(string doc, int start, int end, List<(string, int, int)> into)
    {
        while (end - start > ChunkChars)
        {
            int cut = -1;
            for (int i = start + ChunkChars; i < end - 1 && cut < 0; i++)
                if (doc[i] == '\n' && !char.IsWhiteSpace(doc[i + 1])) cut = i + 1;
            if (cut < 0) break;
            into.Add((doc, start, cut - start));
            start = cut;
        }
        if (end > start) into.Add((doc, start, end - start));
    }

    sealed class Worker(string pre)
    {
        readonly PreTokenizer _pre = PreTokenizer.For(pre) ?? throw new NotSupportedException($"pre-tokenizer '{pre}' is not supported");
        readonly List<int> _lengths = [], _scratch = [];
        int[] _cps = new int[1024];
        public readonly Dictionary<string, long> Counts = new(StringComparer.Ordinal);

        public void Add(ReadOnlySpan<char> text)
        {
            if (_cps.Length < text.Length) _cps = new int[text.Length];
            int n = 0;
            foreach (var r in text.EnumerateRunes()) _cps[n++] = r.Value;
            _pre.Split(_cps.AsSpan(0, n), _lengths, _scratch);
            var lookup = Counts.GetAlternateLookup<ReadOnlySpan<char>>();
            int cp = 0, ch = 0;
            foreach (int len in _lengths)
            {
                int start = ch;
                for (int i = cp; i < cp + len; i++) ch += new Rune(_cps[i]).Utf16SequenceLength;
                cp += len;
                var piece = text[start..ch];
                lookup[piece] = lookup.TryGetValue(piece, out long v) ? v + 1 : 1;
            }
        }
    }
}
