// SentencePiece Unigram as llama.cpp's llm_tokenizer_ugm_session (T5's "t5" / UGM vocabulary), for
// one text fragment, working on UTF-8 bytes as llama.cpp does so that ties resolve identically.
// 1. Normalize: at each position a user-defined piece passes through unchanged; otherwise the longest
//    match in the precompiled charsmap (PrecompiledCharsmap) is replaced; otherwise the character is
//    kept. Spaces (' ' only) become '▁'; a '▁' goes before the first word (add_space_prefix) or, with
//    remove_extra_whitespaces, before every word, runs of spaces then collapsing and the ends trimmed.
// 2. Viterbi: for each code-point boundary the best-scoring segmentation so far (scores summed in
//    double; user-defined pieces score 0); a code point no piece covers costs the lowest piece score
//    minus 10 as the unknown token; consecutive unknowns collapse into one. Byte pieces take no part
//    (llama.cpp's UGM has no byte fallback). Scratch is pooled or per thread: no allocation once warm.
using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace EdgeLM.Tokenizers;

internal sealed class UnigramEncoder
{
    readonly ByteTrie _pieces = new(), _userDefined = new();
    readonly float[] _scores;
    readonly bool[] _isUserDefined;
    readonly double _unknownScore;
    readonly int _unkId;
    readonly bool _prependSpace, _mergeSpaces;
    readonly Charsmap? _charsmap;
    static readonly byte[] Space = Encoding.UTF8.GetBytes("\u2581");
    [ThreadStatic] static ArrayBufferWriter<byte>? t_normalized; // reused per thread: encoding allocates nothing once warm

    public UnigramEncoder(TokenizerData data, TokenType[] types)
    {
        _scores = data.Scores!;
        _unkId = data.UnkId;
        _isUserDefined = new bool[types.Length];
        float min = float.MaxValue;
        for (int id = 0; id < types.Length; id++)
        {
            var t = types[id];
            if (t == TokenType.Normal) min = Math.Min(min, _scores[id]);
            if (t is TokenType.Normal or TokenType.UserDefined or TokenType.Unused)
                _pieces.Insert(Encoding.UTF8.GetBytes(data.Tokens[id]), id);
            if (t == TokenType.UserDefined)
            {
                _userDefined.Insert(Encoding.UTF8.GetBytes(data.Tokens[id]), id);
                _isUserDefined[id] = true;
            }
        }
        _unknownScore = (double)min - 10.0;
        _prependSpace = data.AddSpacePrefix;
        _mergeSpaces = data.RemoveExtraWhitespaces;
        _charsmap = data.PrecompiledCharsmap is { Length: > 0 } cm ? new Charsmap(cm) : null;
    }

    public void Encode(ReadOnlySpan<char> text, List<int> output)
    {
        byte[] input = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length));
        var normalized = t_normalized ??= new ArrayBufferWriter<byte>(1024);
        normalized.ResetWrittenCount();
        try
        {
            int n = Encoding.UTF8.GetBytes(text, input);
            Normalize(input.AsSpan(0, n), normalized);
            Viterbi(normalized.WrittenSpan, output);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
        }
    }

    /// <summary>True when a charsmap has a valid layout (llama.cpp rejects the others when it loads the vocabulary).</summary>
    internal static bool IsValidCharsmap(byte[] map) =>
        map.Length >= 4 && (long)BinaryPrimitives.ReadUInt32LittleEndian(map) + 4 < map.Length;

    void Normalize(ReadOnlySpan<byte> input, ArrayBufferWriter<byte> output)
    {
        bool spacePrepended = false, inWord = false;
        for (int off = 0; off < input.Length;)
        {
            var piece = NormalizePrefix(input, off, out int consumed);
            foreach (byte c in piece)
            {
                if (c != (byte)' ')
                {
                    if (!inWord)
                    {
                        inWord = true;
                        if ((_prependSpace && !spacePrepended) || _mergeSpaces)
                        {
                            output.Write(Space);
                            spacePrepended = true;
                        }
                    }
                    output.Write([c]);
                }
                else
                {
                    inWord = false;
                    if (!_mergeSpaces) output.Write(Space);
                }
            }
            off += consumed;
        }
    }

    /// <summary>The normalized text for the input at <paramref name="off"/>; <paramref name="consumed"/> input bytes used.</summary>
    ReadOnlySpan<byte> NormalizePrefix(ReadOnlySpan<byte> input, int off, out int consumed)
    {
        int user = _userDefined.LongestPrefix(input[off..]);
        if (user > 0)
        {
            consumed = user;
            return input.Slice(off, user);
        }
        if (_charsmap is not null && _charsmap.Match(input[off..], out consumed, out var replacement))
            return replacement;
        consumed = Math.Min(Utf8Length(input[off]), input.Length - off); // the input is valid UTF-8 (from a .NET string)
        return input.Slice(off, consumed);
    }

    /// <summary>unicode_len_utf8: the sequence length a lead byte announces (1 for a stray continuation byte).</summary>
    static int Utf8Length(byte lead) => (lead >> 4) switch { 12 or 13 => 2, 14 => 3, 15 => 4, _ => 1 };

    void Viterbi(ReadOnlySpan<byte> s, List<int> output)
    {
        int n = s.Length;
        if (n == 0) return;
        var best = ArrayPool<(int Token, int From, double Score)>.Shared.Rent(n + 1);
        try
        {
            for (int i = 0; i <= n; i++) best[i] = (_unkId, 0, double.MinValue);
            best[0] = (_unkId, 0, 0);
            for (int off = 0; off < n;)
            {
                int cpLen = Math.Min(Utf8Length(s[off]), n - off);
                bool single = false;
                double from = best[off].Score;
                int node = 0;
                for (int p = off; p < n; p++)
                {
                    node = _pieces.Next(node, s[p]);
                    if (node < 0) break;
                    int id = _pieces.Value(node);
                    if (id < 0) continue;
                    if (p + 1 - off == cpLen) single = true;
                    double score = from + (_isUserDefined[id] ? 0.0 : _scores[id]);
                    if (score > best[p + 1].Score) best[p + 1] = (id, off, score);
                }
                if (!single)
                {
                    double score = from + _unknownScore;
                    if (score > best[off + cpLen].Score) best[off + cpLen] = (_unkId, off, score);
                }
                off += cpLen;
            }
            int start = output.Count;
            bool prevUnknown = false;
            for (int at = n; ;)
            {
                var (token, prev, _) = best[at];
                bool unknown = token == _unkId;
                if (!(prevUnknown && unknown)) output.Add(token);
                if (prev == 0) break;
                prevUnknown = unknown;
                at = prev;
            }
            output.Reverse(start, output.Count - start);
        }
        finally
        {
            ArrayPool<(int, int, double)>.Shared.Return(best);
        }
    }

    /// <summary>A byte trie (llama.cpp's naive_trie): children in one hash map keyed by (node, byte).</summary>
    sealed class ByteTrie
    {
        readonly Dictionary<long, int> _next = [];
        readonly List<int> _values = [-1]; // node 0 is the root

        public void Insert(ReadOnlySpan<byte> key, int value)
        {
            if (key.IsEmpty) return;
            int node = 0;
            foreach (byte b in key)
            {
                long k = ((long)node << 8) | b;
                if (!_next.TryGetValue(k, out int child))
                {
                    child = _values.Count;
                    _values.Add(-1);
                    _next[k] = child;
                }
                node = child;
            }
            _values[node] = value; // the last of equal texts wins, as in llama.cpp
        }

        public int Next(int node, byte b) => _next.TryGetValue(((long)node << 8) | b, out int child) ? child : -1;

        public int Value(int node) => _values[node];

        /// <summary>Length of the longest key that prefixes <paramref name="s"/>, or 0.</summary>
        public int LongestPrefix(ReadOnlySpan<byte> s)
        {
            int node = 0, best = 0;
            for (int i = 0; i < s.Length; i++)
            {
                node = Next(node, s[i]);
                if (node < 0) break;
                if (_values[node] >= 0) best = i + 1;
            }
            return best;
        }
    }

    /// <summary>
    /// SentencePiece's precompiled charsmap: a uint32 blob size, an XOR-compressed compact double array
    /// (each uint32 entry: BASE in bits 10-30 shifted by bit 9, LEAF bit 8, LCHECK bits 0-7, value bits
    /// 0-30) and NUL-terminated replacement strings. Indexes outside the arrays end a match instead of
    /// throwing, so a damaged map can only normalize less, never crash.
    /// </summary>
    sealed class Charsmap
    {
        readonly uint[] _xcda;
        readonly byte[] _replacements;

        public Charsmap(byte[] map)
        {
            uint size = map.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(map) : uint.MaxValue;
            if (size == uint.MaxValue || (long)size + 4 >= map.Length) { _xcda = []; _replacements = []; return; }
            _xcda = new uint[size / 4];
            for (int i = 0; i < _xcda.Length; i++) _xcda[i] = BinaryPrimitives.ReadUInt32LittleEndian(map.AsSpan(4 + 4 * i));
            _replacements = map[(4 + (int)size)..];
        }

        public bool Match(ReadOnlySpan<byte> input, out int consumed, out ReadOnlySpan<byte> replacement)
        {
            consumed = 0;
            replacement = default;
            if (_xcda.Length == 0) return false;
            uint node = Base(0);
            int bestLen = 0;
            uint bestOffset = 0;
            for (int p = 0; p < input.Length; p++)
            {
                byte c = input[p];
                if (c == 0) break;
                node ^= c;
                if (node >= _xcda.Length || (_xcda[node] & (0x80000000u | 0xFF)) != c) break;
                bool leaf = ((_xcda[node] >> 8) & 1) != 0;
                node ^= Base(node);
                if (leaf)
                {
                    if (node >= _xcda.Length) break;
                    bestLen = p + 1;
                    bestOffset = _xcda[node] & 0x7FFFFFFF;
                }
            }
            if (bestLen == 0 || bestOffset >= _replacements.Length) return false;
            var rest = _replacements.AsSpan((int)bestOffset);
            int end = rest.IndexOf((byte)0);
            replacement = end < 0 ? rest : rest[..end];
            consumed = bestLen;
            return true;
        }

        uint Base(uint index)
        {
            if (index >= _xcda.Length) return uint.MaxValue; // no valid child: the next LCHECK test fails
            uint packed = _xcda[index];
            return (packed >> 10) << (int)((packed & (1u << 9)) >> 6);
        }
    }
}
