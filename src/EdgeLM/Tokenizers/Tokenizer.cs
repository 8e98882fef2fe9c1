// Text ↔ token ids for a TokenizerData vocabulary, reproducing llama.cpp's llama_tokenize (special
// and user-defined tokens split out first as tokenizer_st_partition does, then SentencePiece BPE,
// byte-level BPE, WordPiece or Unigram on the text between them) and its token_to_piece for decoding. Token attributes
// follow llama.cpp's loader: end-of-generation texts are forced to control tokens, Phi-3 strips
// whitespace after its special tokens. Encode is thread-safe (per-thread scratch).
using System.Text;
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;

namespace EdgeLM.Tokenizers;

public sealed partial class Tokenizer
{
    readonly string[] _texts;             // token texts as llama.cpp keys them (empty ones renamed)
    readonly TokenType[] _types;          // after llama.cpp's forced attributes
    readonly bool[] _rstrip;
    readonly Dictionary<string, int> _ids;
    readonly int[] _specials;             // control / user-defined / unknown ids, longest text first
    readonly HashSet<int> _eog = [];
    readonly SpmEncoder? _spm;
    readonly BpeEncoder? _bpe;
    readonly WordPieceEncoder? _wpm;
    readonly UnigramEncoder? _ugm;
    readonly PreTokenizer? _pre;
    // TokenBytes(id, special: false) for every id, packed into one array (one object instead of one
    // per token: ~150K small arrays cost several MB of headers), and the few ids whose special
    // rendering differs.
    readonly byte[] _pieceData;
    readonly int[] _pieceStart;           // piece i is _pieceData[_pieceStart[i] .. _pieceStart[i + 1]]
    readonly Dictionary<int, byte[]> _specialPieces = [];

    public Tokenizer(TokenizerData data)
    {
        Data = data;
        int n = data.VocabSize;
        _texts = new string[n];
        _types = (TokenType[])data.Types.Clone();
        _ids = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            _texts[i] = data.Tokens[i].Length == 0 ? $"[EMPTY_{i}]" : data.Tokens[i];
            _ids[_texts[i]] = i; // the last of equal texts wins, as in llama.cpp
        }
        EotId = data.EotId >= 0 ? data.EotId : FindFirst(EotTexts);
        MarkEndOfGeneration();
        _specials = SpecialsLongestFirst();
        _rstrip = RStripFlags();

        var lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        switch (data.Model)
        {
            case "llama":
                _spm = new SpmEncoder(lookup, data.Scores ?? new float[n], ByteTokens());
                break;
            case "bert":
                _wpm = new WordPieceEncoder(lookup, data.UnkId);
                break;
            case "t5":
                _ugm = new UnigramEncoder(data, _types);
                break;
            default:
                _pre = PreTokenizer.For(data.Pre) ?? throw new NotSupportedException(
                    $"pre-tokenizer '{data.Pre}' is not supported; supported: {string.Join(", ", PreTokenizer.Supported)}");
                _bpe = new BpeEncoder(_ids, data.Merges, TokenizerData.IsLlama3Family(data.Pre));
                break;
        }
        var packed = new System.Buffers.ArrayBufferWriter<byte>(n * 8);
        _pieceStart = new int[n + 1];
        for (int i = 0; i < n; i++)
        {
            byte[] plain = Piece(i, special: false);
            System.Buffers.BuffersExtensions.Write(packed, plain);
            _pieceStart[i + 1] = packed.WrittenCount;
            byte[] special = Piece(i, special: true);
            if (!special.AsSpan().SequenceEqual(plain)) _specialPieces[i] = special;
        }
        _pieceData = packed.WrittenSpan.ToArray();
    }

    // ---- loading --------------------------------------------------------------------------------

    public static Tokenizer FromGguf(GgufFile file) => new(TokenizerData.FromGguf(file));

    /// <summary>
    /// Loads from a GGUF file, a folder holding tokenizer.json (or tokenizer.model, or vocab.txt), a
    /// tokenizer.json, a SentencePiece .model (BPE or Unigram), a BERT vocab.txt or a llama2.c tokenizer .bin.
    /// </summary>
    public static Tokenizer Load(string path) => new(LoadData(path));

    public static TokenizerData LoadData(string path)
    {
        if (Directory.Exists(path))
        {
            string json = Path.Combine(path, "tokenizer.json");
            if (File.Exists(json)) return TokenizerData.FromHuggingFace(json);
            string model = Path.Combine(path, "tokenizer.model");
            if (File.Exists(model)) return TokenizerData.FromSentencePieceModel(model);
            string vocab = Path.Combine(path, "vocab.txt");
            if (File.Exists(vocab)) return TokenizerData.FromWordPieceVocab(vocab);
            throw new FileNotFoundException($"{path}: no tokenizer.json, tokenizer.model or vocab.txt in this folder");
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        if (GgufFile.IsGguf(path))
        {
            using var gguf = GgufFile.Open(path);
            return TokenizerData.FromGguf(gguf);
        }
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".json" => TokenizerData.FromHuggingFace(path),
            ".model" => TokenizerData.FromSentencePieceModel(path),
            ".bin" => TokenizerData.FromLlama2cBin(path),
            ".txt" => TokenizerData.FromWordPieceVocab(path),
            _ => throw new InvalidModelFileException(path, "not a GGUF file, tokenizer.json, SentencePiece .model, WordPiece vocab.txt or llama2.c .bin"),
        };
    }

    // ---- properties -----------------------------------------------------------------------------

    public TokenizerData Data { get; }
    public int VocabSize => _texts.Length;
    public int BosId => Data.BosId;
    public int EosId => Data.EosId;
    public int EotId { get; }
    public bool AddBos => Data.AddBos;
    public bool AddEos => Data.AddEos;
    public bool IsSentencePiece => Data.IsSentencePiece;

    /// <summary>The token's text as stored in the vocabulary (SentencePiece '▁', GPT-2 alphabet).</summary>
    public string TokenText(int id) => _texts[CheckId(id)];

    /// <summary>The token's type after llama.cpp's adjustments (end-of-generation texts are control).</summary>
    public TokenType GetTokenType(int id) => _types[CheckId(id)];

    /// <summary>True for tokens that end generation: eos, eot and the texts llama.cpp marks (&lt;|im_end|&gt;, &lt;|eot_id|&gt; ...).</summary>
    public bool IsEndOfGeneration(int id) => _eog.Contains(id);

    int CheckId(int id) => (uint)id < (uint)_texts.Length ? id
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {_texts.Length}");

    // ---- llama.cpp's token attributes -----------------------------------------------------------

    static readonly string[] EotTexts =
        ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>"];

    static readonly string[] EogTexts =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
    ];

    // Fill-in-the-middle texts llama.cpp detects and marks as control; pad/repo/separator also end generation.
    static readonly string[] FimTexts =
    [
        "<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|fim▁begin|>",
        "<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|fim▁hole|>",
        "<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|fim▁end|>",
    ];
    static readonly string[] FimEogTexts = ["<|fim_pad|>", "<fim-pad>", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<|file_sep|>", "<fim-sep>"];

    int FindFirst(string[] texts)
    {
        foreach (string t in texts)
            if (_ids.TryGetValue(t, out int id)) return id;
        return -1;
    }

    void MarkEndOfGeneration()
    {
        if (EotId >= 0) _types[EotId] = TokenType.Control;
        foreach (string t in FimTexts)
            if (_ids.TryGetValue(t, out int id)) _types[id] = TokenType.Control;
        foreach (string t in FimEogTexts)
            if (_ids.TryGetValue(t, out int id)) { _types[id] = TokenType.Control; _eog.Add(id); }
        foreach (string t in EogTexts)
            if (_ids.TryGetValue(t, out int id)) { _types[id] = TokenType.Control; _eog.Add(id); }
        if (Data.EosId >= 0) _eog.Add(Data.EosId);
        if (EotId >= 0) _eog.Add(EotId);
    }

    int[] SpecialsLongestFirst()
    {
        var list = new List<int>();
        for (int i = 0; i < _types.Length; i++)
            if (_types[i] is TokenType.Control or TokenType.UserDefined or TokenType.Unknown) list.Add(i);
        // Longest text first; equal lengths by id (llama.cpp's std::sort leaves them unordered).
        list.Sort((a, b) => _texts[a].Length != _texts[b].Length ? _texts[b].Length.CompareTo(_texts[a].Length) : a.CompareTo(b));
        return [.. list];
    }

    bool[] RStripFlags() => RStripFlags(Data);

    /// <summary>llama.cpp's per-token RSTRIP attribute: only Phi-3 (by general.name) sets it, on every
    /// control, user-defined and unknown token and on "&lt;/s&gt;", except "&lt;unk&gt;", "&lt;s&gt;" and
    /// "&lt;|endoftext|&gt;". Whitespace after such a token in the text is dropped. TokenizerJson writes it
    /// as the added token's rstrip, so Hugging Face strips alike.</summary>
    internal static bool[] RStripFlags(TokenizerData data)
    {
        var r = new bool[data.VocabSize];
        string name = (data.ModelName ?? "").ToLowerInvariant();
        if (!name.Contains("phi-3", StringComparison.Ordinal) && !name.Contains("phi3", StringComparison.Ordinal)) return r;
        for (int i = 0; i < r.Length; i++)
            r[i] = data.Types[i] is TokenType.Control or TokenType.UserDefined or TokenType.Unknown || data.Tokens[i] == "</s>";
        foreach (string t in (string[])["<unk>", "<s>", "<|endoftext|>"])
        {
            int id = Array.IndexOf(data.Tokens, t);
            if (id >= 0) r[id] = false;
        }
        return r;
    }

    int[] ByteTokens()
    {
        var map = new int[256];
        for (int b = 0; b < 256; b++)
        {
            if (_ids.TryGetValue($"<0x{b:X2}>", out int id)) map[b] = id;
            else if (b < 128 && _ids.TryGetValue(((char)b).ToString(), out id)) map[b] = id;
            else map[b] = Math.Max(Data.UnkId, 0);
        }
        return map;
    }

    // ---- decoding pieces ------------------------------------------------------------------------

    byte[] Piece(int id, bool special)
    {
        string text = _texts[id];
        switch (_types[id])
        {
            case TokenType.Control: return special ? Encoding.UTF8.GetBytes(text) : [];
            case TokenType.Unknown or TokenType.UserDefined: return Encoding.UTF8.GetBytes(text);
            case TokenType.Byte when Data.UsesMetaspace && TokenizerData.IsByteTokenText(text):
                return [Convert.ToByte(text.Substring(3, 2), 16)];
            case TokenType.Normal when Data.UsesMetaspace: return Encoding.UTF8.GetBytes(text.Replace('\u2581', ' '));
            case TokenType.Normal: return Gpt2Decode(text);
            default: return [];
        }
    }

    static byte[] Gpt2Decode(string text)
    {
        var bytes = new List<byte>(text.Length);
        Span<byte> tmp = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            int b = rune.Value < 512 ? Gpt2Bytes.CharToByte[rune.Value] : -1;
            if (b >= 0) { bytes.Add((byte)b); continue; }
            // Not in the GPT-2 alphabet: keep the character itself (llama.cpp prints an [UNK_BYTE] marker).
            int k = rune.EncodeToUtf8(tmp);
            for (int j = 0; j < k; j++) bytes.Add(tmp[j]);
        }
        return [.. bytes];
    }
}
