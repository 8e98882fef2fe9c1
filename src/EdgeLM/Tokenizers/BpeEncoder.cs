// Byte-level BPE as llama.cpp's llm_tokenizer_bpe_session, for one pre-token already mapped to the
// GPT-2 alphabet: with ignore_merges (Llama 3) a pre-token that is itself a token is emitted whole;
// otherwise start from one symbol per byte, repeatedly merge the adjacent pair of lowest merge rank
// (leftmost on ties), and emit each symbol's token; a symbol with no token falls back to its ASCII
// characters that are tokens (llama.cpp drops the rest). Ranks are looked up by the pair of token
// ids and a merge's token by its rank, so the loop allocates and hashes no text; the rare merge whose
// halves are not tokens is kept by text.
// Natural text repeats its words, so the ids of short pre-tokens are cached (a bounded, thread-safe
// map looked up by span: a hit allocates nothing and skips the merge loop).
namespace EdgeLM.Tokenizers;

internal sealed class BpeEncoder
{
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _ids;
    readonly Dictionary<long, int> _rankByIds = new(MixedHash.Instance);
    readonly Dictionary<string, int> _rankByText = new(StringComparer.Ordinal);
    readonly int[] _resultByRank;   // the token a merge makes (-1 when its text is not a token)
    readonly int[] _byteIds;        // the token of each GPT-2 alphabet character (-1 when none)
    readonly bool _ignoreMerges;
    // A plain dictionary under a lock: uncontended, that costs far less than ConcurrentDictionary's
    // inserts (which the first pass over new text is full of).
    readonly Dictionary<string, int[]> _cache = new(4096, StringComparer.Ordinal);
    readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    const int CachedWordMax = 48;      // GPT-2 alphabet chars (bytes); longer pre-tokens are rarely repeated
    const int CacheEntriesMax = 1 << 16; // then the cache starts over: memory stays bounded on any input

    public BpeEncoder(Dictionary<string, int> ids, string[] merges, bool ignoreMerges)
    {
        _ids = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _ignoreMerges = ignoreMerges;
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        _resultByRank = new int[merges.Length];
        _byteIds = new int[Gpt2AlphabetEnd];
        for (int c = 0; c < _byteIds.Length; c++)
            _byteIds[c] = ids.TryGetValue(((char)c).ToString(), out int t) ? t : -1;
        for (int rank = 0; rank < merges.Length; rank++)
        {
            string m = merges[rank];
            int sp = m.Length > 1 ? m.IndexOf(' ', 1) : -1;
            _resultByRank[rank] = -1;
            if (sp < 0) continue;
            _resultByRank[rank] = ids.TryGetValue(string.Concat(m.AsSpan(0, sp), m.AsSpan(sp + 1)), out int made) ? made : -1;
            // First occurrence wins, as with llama.cpp's bpe_ranks.emplace.
            if (ids.TryGetValue(m[..sp], out int a) && ids.TryGetValue(m[(sp + 1)..], out int b))
                _rankByIds.TryAdd(Key(a, b), rank);
            else
                _rankByText.TryAdd(m, rank);
        }
    }

    static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    // The GPT-2 byte alphabet maps the 256 bytes into U+0021..U+0143.
    const int Gpt2AlphabetEnd = 0x144;

    // long.GetHashCode is hi ^ lo: for pairs of token ids (both below ~2^18) that folds 150K merges
    // onto few, clustered buckets. A multiplicative (Fibonacci) hash spreads them.
    sealed class MixedHash : IEqualityComparer<long>
    {
        public static readonly MixedHash Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long k) => (int)(((ulong)k * 0x9E3779B97F4A7C15UL) >> 32);
    }

    public void Encode(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.IsEmpty) return;
        if (word.Length > CachedWordMax)
        {
            EncodeUncached(word, output);
            return;
        }
        int[]? cached;
        lock (_cache)
            _cacheLookup.TryGetValue(word, out cached);
        if (cached is not null)
        {
            output.AddRange(cached);
            return;
        }
        int first = output.Count;
        EncodeUncached(word, output);
        int[] ids = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(output)[first..].ToArray();
        lock (_cache)
        {
            if (_cache.Count >= CacheEntriesMax) _cache.Clear();
            _cacheLookup.TryAdd(word, ids);
        }
    }

    void EncodeUncached(ReadOnlySpan<char> word, List<int> output)
    {
        if (_ignoreMerges && _ids.TryGetValue(word, out int whole))
        {
            output.Add(whole);
            return;
        }
        var s = EncodeScratch.Get();
        s.EnsureSymbols(word.Length);
        int[] start = s.Start, len = s.Len, prev = s.Prev, next = s.Next, id = s.Id;
        int n = word.Length; // one GPT-2 alphabet char per byte
        for (int i = 0; i < n; i++)
        {
            start[i] = i;
            len[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 == n ? -1 : i + 1;
            char c = word[i];
            id[i] = c < Gpt2AlphabetEnd ? _byteIds[c] : _ids.TryGetValue(word.Slice(i, 1), out int t) ? t : -1;
        }
        var heap = s.Heap;
        heap.Reset(byScore: false);
        for (int i = 1; i < n; i++) TryAdd(word, s, i - 1, i);

        while (heap.Count > 0)
        {
            var b = heap.Pop();
            int l = b.Left, r = b.Right;
            // Stale when either side changed since the pair was queued (llama.cpp compares the texts).
            if (len[l] == 0 || len[r] == 0 || len[l] != b.LeftLen || len[r] != b.RightLen) continue;
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            // The merged symbol's text is the merge's own (both sides are as queued), so its token is known by rank.
            id[l] = _resultByRank[b.Rank];
            TryAdd(word, s, prev[l], l);
            TryAdd(word, s, l, next[l]);
        }

        for (int i = 0; i != -1; i = next[i])
        {
            if (id[i] >= 0) { output.Add(id[i]); continue; }
            var sym = word.Slice(start[i], len[i]);
            foreach (char c in sym)
                if (c < 0x80 && _ids.TryGetValue(new ReadOnlySpan<char>(in c), out int t)) output.Add(t);
        }
    }

    void TryAdd(ReadOnlySpan<char> word, EncodeScratch s, int left, int right)
    {
        if (left < 0 || right < 0) return;
        int a = s.Id[left], b = s.Id[right];
        int rank;
        if (a >= 0 && b >= 0)
        {
            if (!_rankByIds.TryGetValue(Key(a, b), out rank)) return;
        }
        else
        {
            if (_rankByText.Count == 0) return;
            string key = string.Concat(word.Slice(s.Start[left], s.Len[left]), " ", word.Slice(s.Start[right], s.Len[right]));
            if (!_rankByText.TryGetValue(key, out rank)) return;
        }
        s.Heap.Push(new Bigram { Left = left, Right = right, Rank = rank, LeftLen = s.Len[left], RightLen = s.Len[right] });
    }
}
