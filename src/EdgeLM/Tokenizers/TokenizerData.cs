// The neutral vocabulary record every tokenizer source is converted to: the fields of GGUF's
// tokenizer.ggml.* keys (ggml docs/gguf.md, "Tokenizer"), read with llama.cpp's defaults
// (llama-vocab.cpp, llama_vocab::impl::load). It holds data only; Tokenizer turns it into an encoder.
// Other sources (tokenizer.json, SentencePiece .model, llama2.c tokenizer.bin) live in the partial
// files beside this one.
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;

namespace EdgeLM.Tokenizers;

/// <summary>GGUF token types (tokenizer.ggml.token_type), numbered as in the file.</summary>
public enum TokenType
{
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

public sealed partial record TokenizerData
{
    /// <summary>
    /// "llama" = SentencePiece BPE by score; "gpt2" = byte-level BPE by merge rank; "bert" = WordPiece
    /// (pieces in llama.cpp's '▁'-prefixed form); "t5" = SentencePiece Unigram.
    /// </summary>
    public required string Model { get; init; }

    /// <summary>Pre-tokenizer name as in GGUF tokenizer.ggml.pre ("default", "llama-bpe", "qwen2", "gpt-2" ...).</summary>
    public string Pre { get; init; } = "default";

    public required string[] Tokens { get; init; }

    /// <summary>One score per token (SentencePiece merge priority); null when the source has none.</summary>
    public float[]? Scores { get; init; }

    public required TokenType[] Types { get; init; }

    /// <summary>Byte-level BPE merges, "left right", highest priority first.</summary>
    public string[] Merges { get; init; } = [];

    public int BosId { get; init; } = -1;
    public int EosId { get; init; } = -1;
    public int UnkId { get; init; } = -1;
    public int PadId { get; init; } = -1;
    public int EotId { get; init; } = -1;

    /// <summary>WordPiece: the separator ([SEP]) closing an encoded text when special tokens are added.</summary>
    public int SepId { get; init; } = -1;

    /// <summary>Unigram: SentencePiece's precompiled normalization charsmap (tokenizer.ggml.precompiled_charsmap), or null.</summary>
    public byte[]? PrecompiledCharsmap { get; init; }

    /// <summary>Unigram: runs of spaces become one, and leading / trailing spaces go (SentencePiece remove_extra_whitespaces).</summary>
    public bool RemoveExtraWhitespaces { get; init; }

    public bool AddBos { get; init; }
    public bool AddEos { get; init; }
    public bool AddSpacePrefix { get; init; }
    public string? ChatTemplate { get; init; }

    /// <summary>general.name when read from a model file; llama.cpp keys a few token attributes on it.</summary>
    public string? ModelName { get; init; }

    public int VocabSize => Tokens.Length;

    public bool IsSentencePiece => Model == "llama";

    /// <summary>True for the vocabularies whose pieces spell a space as '▁' (all but byte-level BPE).</summary>
    internal bool UsesMetaspace => Model != "gpt2";

    /// <summary>Checks counts and ids; <paramref name="path"/> names the source in the exception.</summary>
    public TokenizerData Validate(string path)
    {
        if (Model is not ("llama" or "gpt2" or "bert" or "t5"))
            throw new InvalidModelFileException(path, $"tokenizer model '{Model}' is not supported (expected 'llama', 'gpt2', 'bert' or 't5')");
        if (Tokens.Length == 0)
            throw new InvalidModelFileException(path, "the vocabulary has no tokens");
        if (Types.Length != Tokens.Length)
            throw new InvalidModelFileException(path, $"{Types.Length} token types for {Tokens.Length} tokens");
        if (Scores is not null && Scores.Length != Tokens.Length)
            throw new InvalidModelFileException(path, $"{Scores.Length} token scores for {Tokens.Length} tokens");
        for (int i = 0; i < Types.Length; i++)
        {
            if (Types[i] is < TokenType.Undefined or > TokenType.Byte)
                throw new InvalidModelFileException(path, $"token {i} has unknown type {(int)Types[i]}");
            if (Tokens[i] is null)
                throw new InvalidModelFileException(path, $"token {i} has no text");
        }
        CheckId(path, "bos", BosId);
        CheckId(path, "eos", EosId);
        CheckId(path, "unk", UnkId);
        CheckId(path, "pad", PadId);
        CheckId(path, "eot", EotId);
        CheckId(path, "sep", SepId);
        if (Model is "bert" or "t5" && UnkId < 0)
            throw new InvalidModelFileException(path, $"a '{Model}' vocabulary needs an unknown token (tokenizer.ggml.unknown_token_id)");
        if (PrecompiledCharsmap is { Length: > 0 } cm && !UnigramEncoder.IsValidCharsmap(cm))
            throw new InvalidModelFileException(path, "the precompiled charsmap's blob size runs past its end");
        if (Model == "t5" && Scores is null)
            throw new InvalidModelFileException(path, "a Unigram vocabulary needs scores (tokenizer.ggml.scores)");
        if (Model == "gpt2" && Merges.Length == 0)
            throw new InvalidModelFileException(path, "a byte-level BPE vocabulary needs merges (tokenizer.ggml.merges is empty)");
        return this;
    }

    void CheckId(string path, string what, int id)
    {
        if (id < -1 || id >= Tokens.Length)
            throw new InvalidModelFileException(path, $"{what} token id {id} is outside the vocabulary of {Tokens.Length}");
    }

    // ---- GGUF -----------------------------------------------------------------------------------

    const string Prefix = "tokenizer.ggml.";

    /// <summary>Reads tokenizer.ggml.* and tokenizer.chat_template with llama.cpp's defaults.</summary>
    public static TokenizerData FromGguf(GgufFile file)
    {
        string path = file.Path;
        string model = file.GetRequiredString(Prefix + "model");
        bool spm = model == "llama";
        var d = Defaults.For(model);
        string[] tokens = file.GetArray<string>(Prefix + "tokens")
            ?? throw new InvalidModelFileException(path, $"metadata key '{Prefix}tokens' is missing");
        int[]? rawTypes = file.GetInt32Array(Prefix + "token_type");
        var types = new TokenType[tokens.Length];
        if (rawTypes is null) Array.Fill(types, TokenType.Normal);
        else if (rawTypes.Length != tokens.Length)
            throw new InvalidModelFileException(path, $"'{Prefix}token_type' has {rawTypes.Length} entries for {tokens.Length} tokens");
        else
            for (int i = 0; i < types.Length; i++) types[i] = (TokenType)rawTypes[i];

        return new TokenizerData
        {
            Model = model,
            Pre = file.GetString(Prefix + "pre") ?? "default",
            Tokens = tokens,
            Scores = file.GetArray<float>(Prefix + "scores"),
            Types = types,
            Merges = file.GetArray<string>(Prefix + "merges") ?? [],
            BosId = Id(file, "bos_token_id", d.Bos),
            EosId = Id(file, "eos_token_id", d.Eos),
            UnkId = Id(file, "unknown_token_id", d.Unk),
            PadId = Id(file, "padding_token_id", d.Pad),
            EotId = Id(file, "eot_token_id", -1),
            SepId = Id(file, "seperator_token_id", d.Sep), // sic: llama.cpp's key name
            AddBos = file.GetBool(Prefix + "add_bos_token") ?? (d.AddBos || IsLlama3Family(file.GetString(Prefix + "pre"))),
            AddEos = file.GetBool(Prefix + "add_eos_token") ?? d.AddEos,
            AddSpacePrefix = file.GetBool(Prefix + "add_space_prefix") ?? d.AddSpacePrefix,
            RemoveExtraWhitespaces = file.GetBool(Prefix + "remove_extra_whitespaces") ?? false,
            PrecompiledCharsmap = Charsmap(file),
            ChatTemplate = file.GetString("tokenizer.chat_template"),
            ModelName = file.GetString("general.name"),
        }.Validate(path);
    }

    /// <summary>llama.cpp's defaults when a key is absent (llama_vocab::impl::load, per tokenizer model).</summary>
    readonly record struct Defaults(int Bos, int Eos, int Unk, int Sep, int Pad, bool AddBos, bool AddEos, bool AddSpacePrefix)
    {
        public static Defaults For(string model) => model switch
        {
            "llama" => new(1, 2, 0, -1, -1, true, false, true),
            "bert" => new(101, -1, 100, 102, 0, true, false, false),
            "t5" => new(-1, 1, 2, -1, 0, false, true, true),
            _ => new(11, 11, -1, -1, -1, false, false, false),
        };
    }

    static byte[]? Charsmap(GgufFile file)
    {
        if (!file.Metadata.TryGetValue(Prefix + "precompiled_charsmap", out var v)) return null;
        return v.Value switch
        {
            byte[] b => b,
            sbyte[] sb => Array.ConvertAll(sb, x => (byte)x),
            _ => throw new InvalidModelFileException(file.Path, $"metadata key '{Prefix}precompiled_charsmap' is {v.Type}, expected an array of bytes"),
        };
    }

    static int Id(GgufFile file, string key, int fallback)
    {
        long? v = file.GetInteger(Prefix + key);
        if (v is null) return fallback;
        // Converters write -1 as 0xFFFFFFFF for "none"; anything else out of range is an error later.
        return v == uint.MaxValue || v == -1 ? -1
            : v is < int.MinValue or > int.MaxValue ? throw new InvalidModelFileException(file.Path, $"metadata key '{Prefix}{key}' is {v}") : (int)v;
    }

    internal static bool IsLlama3Family(string? pre) =>
        pre is "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "falcon-h1" or "pixtral" or "midm-2.0" or "lfm2";

    /// <summary>
    /// A GGUF holding only this vocabulary, with the general.* keys and the few hyper-parameters
    /// llama.cpp requires before it opens any file (its loader reads them even for vocab_only).
    /// </summary>
    public GgufWriter ToVocabOnlyGguf(string name = "vocab")
    {
        string arch = Model switch { "gpt2" or "bert" or "t5" => Model, _ => "llama" };
        var w = new GgufWriter();
        w.Set("general.architecture", arch);
        w.Set("general.name", ModelName ?? name);
        w.Set("general.file_type", 0u);
        w.Set(arch + ".context_length", 2048u);
        w.Set(arch + ".embedding_length", 64u);
        w.Set(arch + ".feed_forward_length", 256u);
        w.Set(arch + ".block_count", 1u);
        w.Set(arch + ".attention.head_count", 1u);
        if (arch is "gpt2" or "bert") w.Set(arch + ".attention.layer_norm_epsilon", 1e-5f);
        else
        {
            w.Set(arch + ".attention.head_count_kv", 1u);
            w.Set(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
        }
        if (arch == "llama") w.Set(arch + ".rope.dimension_count", 64u);
        if (arch == "t5")
        {
            w.Set(arch + ".attention.key_length", 64u);
            w.Set(arch + ".attention.value_length", 64u);
            w.Set(arch + ".attention.relative_buckets_count", 32u);
        }
        WriteTo(w);
        return w;
    }

    /// <summary>Writes the same keys FromGguf reads, in the types llama.cpp's converter uses.</summary>
    public void WriteTo(GgufWriter writer)
    {
        writer.Set(Prefix + "model", Model);
        writer.Set(Prefix + "pre", Pre);
        writer.Set(Prefix + "tokens", Tokens);
        if (Scores is not null) writer.Set(Prefix + "scores", Scores);
        writer.Set(Prefix + "token_type", Array.ConvertAll(Types, t => (int)t));
        if (Merges.Length > 0) writer.Set(Prefix + "merges", Merges);
        if (BosId >= 0) writer.Set(Prefix + "bos_token_id", (uint)BosId);
        if (EosId >= 0) writer.Set(Prefix + "eos_token_id", (uint)EosId);
        if (UnkId >= 0) writer.Set(Prefix + "unknown_token_id", (uint)UnkId);
        if (PadId >= 0) writer.Set(Prefix + "padding_token_id", (uint)PadId);
        if (EotId >= 0) writer.Set(Prefix + "eot_token_id", (uint)EotId);
        if (SepId >= 0) writer.Set(Prefix + "seperator_token_id", (uint)SepId);
        if (Model == "t5") writer.Set(Prefix + "remove_extra_whitespaces", RemoveExtraWhitespaces);
        if (PrecompiledCharsmap is not null) writer.Set(Prefix + "precompiled_charsmap", new GgufValue(GgufValueType.Array, PrecompiledCharsmap, GgufValueType.UInt8));
        writer.Set(Prefix + "add_bos_token", AddBos);
        writer.Set(Prefix + "add_eos_token", AddEos);
        writer.Set(Prefix + "add_space_prefix", AddSpacePrefix);
        if (ChatTemplate is not null) writer.Set("tokenizer.chat_template", ChatTemplate);
    }
}
