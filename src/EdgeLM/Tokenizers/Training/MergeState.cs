// The working state of BPE training: distinct words as symbol arrays, pair counts, the pair → words
// index and the max-heap of pairs (see BpeTrainer's header for the algorithm). A merge rewrites
// only the words the index lists; for each it subtracts the word's old adjacent pairs and adds its
// new ones, so counts stay exact, and pushes the pairs that contain the new symbol (the only ones
// whose count can grow). Counts that shrink leave stale heap entries, fixed when popped.
using System.Runtime.InteropServices;
using System.Text;

namespace EdgeLM.Tokenizers.Training;

internal sealed class MergeState
{
    readonly int[][] _syms;      // word w's symbols are _syms[w][0.._lens[w]]
    readonly int[] _lens;
    readonly long[] _wordCount;
    readonly int[] _stamp;       // last merge that visited word w (the index lists may repeat a word)
    readonly Dictionary<long, long> _pairCount = [];
    readonly Dictionary<long, List<int>> _where = [];
    readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    readonly PriorityQueue<long, (long Score, long Key)> _heap = new(new ByCountThenKey());
    readonly HashSet<long> _touched = [];
    readonly List<byte[]> _bytes = new(1024); // each symbol's UTF-8 bytes, for the alignment rule
    readonly bool _aligned;
    readonly long _bonus; // CharacterBonus in 1/1024ths; 1024 = off

    /// <summary>Symbol texts in the GPT-2 alphabet; 0..255 are the bytes.</summary>
    public List<string> Texts { get; } = new(1024);

    /// <param name="alignToCharacters">Never merge into a token that crosses a character boundary without
    /// starting and ending on one (CharacterAlignment.Allows).</param>
    /// <param name="characterBonus">Rank pairs that build one multi-byte character as if seen this many times as often.</param>
    public MergeState(Dictionary<string, long> counts, bool alignToCharacters = false, double characterBonus = 1)
    {
        _aligned = alignToCharacters;
        _bonus = (long)Math.Round(Math.Clamp(characterBonus, 1, 64) * 1024);
        for (int b = 0; b < 256; b++) AddSymbol(Gpt2Bytes.ByteToChar[b].ToString(), [(byte)b]);
        int n = counts.Count;
        _syms = new int[n][];
        _lens = new int[n];
        _wordCount = new long[n];
        _stamp = new int[n];
        int w = 0;
        foreach (var (text, count) in counts)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(text);
            var s = new int[utf8.Length];
            for (int i = 0; i < s.Length; i++) s[i] = utf8[i];
            _syms[w] = s;
            _lens[w] = s.Length;
            _wordCount[w] = count;
            for (int i = 0; i + 1 < s.Length; i++)
            {
                long k = Key(s[i], s[i + 1]);
                CollectionsMarshal.GetValueRefOrAddDefault(_pairCount, k, out _) += count;
                Where(k).Add(w);
            }
            w++;
        }
        foreach (var (k, c) in _pairCount) _heap.Enqueue(k, (Score(k, c), k));
    }

    /// <summary>The rank of a pair: its count, times the character bonus when it builds one character.</summary>
    long Score(long key, long count)
    {
        if (_bonus == 1024) return count;
        int a = (int)(key >> 32), b = (int)key;
        return InsideOneCharacter(_bytes[a], _bytes[b]) ? count * _bonus / 1024 : count;
    }

    static bool InsideOneCharacter(byte[] a, byte[] b)
    {
        int starts = 0;
        foreach (byte x in a) if ((x & 0xC0) != 0x80) starts++;
        foreach (byte x in b) if ((x & 0xC0) != 0x80) starts++;
        byte first = a[0];
        return starts == 0 || (starts == 1 && first >= 0xC0);
    }

    int AddSymbol(string text, byte[] bytes)
    {
        int id = Texts.Count;
        Texts.Add(text);
        _bytes.Add(bytes);
        _ids[text] = id;
        return id;
    }

    static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    List<int> Where(long k)
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(_where, k, out _);
        return list ??= [];
    }

    /// <summary>Learns merges until <paramref name="maxNewTokens"/> new symbols exist or the best pair is rarer than minFrequency.</summary>
    public List<(int A, int B)> Learn(int maxNewTokens, long minFrequency, IProgress<(int Done, int Total)>? progress, CancellationToken cancel)
    {
        var merges = new List<(int, int)>();
        int added = 0;
        while (added < maxNewTokens && _heap.TryDequeue(out long key, out var entry))
        {
            long current = _pairCount.GetValueOrDefault(key);
            if (Score(key, current) != entry.Score)
            {
                if (current > 0) _heap.Enqueue(key, (Score(key, current), key));
                continue;
            }
            if (current < minFrequency)
            {
                if (_bonus == 1024) break; // ranked by count: every pair left is rarer still
                continue;
            }
            int a = (int)(key >> 32), b = (int)key;
            // A refused pair leaves the heap; it comes back only if a merge touches it, and is refused again.
            if (_aligned && !CharacterAlignment.Allows(_bytes[a], _bytes[b])) continue;
            string text = Texts[a] + Texts[b];
            // Two merge paths can spell the same text ("ab"+"c", "a"+"bc"): reuse the symbol, as HF does.
            if (!_ids.TryGetValue(text, out int id)) { id = AddSymbol(text, [.. _bytes[a], .. _bytes[b]]); added++; }
            merges.Add((a, b));
            Apply(key, a, b, id, merges.Count);
            if ((merges.Count & 63) == 0)
            {
                cancel.ThrowIfCancellationRequested();
                progress?.Report((added, maxNewTokens));
            }
        }
        progress?.Report((maxNewTokens, maxNewTokens));
        return merges;
    }

    void Apply(long key, int a, int b, int id, int mergeNo)
    {
        _touched.Clear();
        var words = _where[key];
        // The list can grow while we walk it only if id is an older symbol equal to a or b, which cannot be.
        for (int wi = 0; wi < words.Count; wi++)
        {
            int w = words[wi];
            if (_stamp[w] == mergeNo) continue;
            _stamp[w] = mergeNo;
            var s = _syms[w];
            int len = _lens[w];
            if (!Contains(s, len, a, b)) continue; // stale: an earlier merge consumed the pair
            long c = _wordCount[w];
            for (int i = 0; i + 1 < len; i++) CollectionsMarshal.GetValueRefOrAddDefault(_pairCount, Key(s[i], s[i + 1]), out _) -= c;
            int j = 0;
            for (int i = 0; i < len;)
            {
                if (i + 1 < len && s[i] == a && s[i + 1] == b) { s[j++] = id; i += 2; }
                else s[j++] = s[i++];
            }
            _lens[w] = len = j;
            for (int i = 0; i + 1 < len; i++)
            {
                long k = Key(s[i], s[i + 1]);
                CollectionsMarshal.GetValueRefOrAddDefault(_pairCount, k, out _) += c;
                if (s[i] == id || s[i + 1] == id)
                {
                    Where(k).Add(w);
                    _touched.Add(k);
                }
            }
        }
        foreach (long k in _touched) _heap.Enqueue(k, (Score(k, _pairCount[k]), k));
        if (_pairCount.GetValueOrDefault(key) <= 0) { _where.Remove(key); _pairCount.Remove(key); }
    }

    static bool Contains(int[] s, int len, int a, int b)
    {
        for (int i = 0; i + 1 < len; i++)
            if (s[i] == a && s[i + 1] == b) return true;
        return false;
    }

    sealed class ByCountThenKey : IComparer<(long Score, long Key)>
    {
        public int Compare((long Score, long Key) x, (long Score, long Key) y) =>
            x.Score != y.Score ? y.Score.CompareTo(x.Score) : x.Key.CompareTo(y.Key);
    }
}
