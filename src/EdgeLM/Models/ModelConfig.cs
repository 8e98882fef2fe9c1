// The hyper-parameters every decoder architecture here shares, read from GGUF metadata keys
// ({arch}.block_count, ...) as llama.cpp's llama_model_loader reads them.
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;

namespace EdgeLM.Models;

public sealed record ModelConfig
{
    /// <summary>general.architecture: llama, qwen2, qwen3.</summary>
    public required string Architecture { get; init; }
    /// <summary>Rows of token_embd.weight.</summary>
    public required int VocabSize { get; init; }
    /// <summary>{arch}.embedding_length: the residual stream width (n_embd).</summary>
    public required int EmbeddingLength { get; init; }
    /// <summary>{arch}.block_count: number of decoder layers.</summary>
    public required int BlockCount { get; init; }
    /// <summary>{arch}.attention.head_count: query heads.</summary>
    public required int HeadCount { get; init; }
    /// <summary>{arch}.attention.head_count_kv: key/value heads (grouped-query attention when fewer than HeadCount).</summary>
    public required int HeadCountKv { get; init; }
    /// <summary>{arch}.attention.key_length, else n_embd / n_head.</summary>
    public required int HeadDim { get; init; }
    /// <summary>{arch}.feed_forward_length: SwiGLU hidden width.</summary>
    public required int FeedForwardLength { get; init; }
    /// <summary>{arch}.context_length: the context the model was trained with.</summary>
    public required int ContextLength { get; init; }
    /// <summary>{arch}.attention.layer_norm_rms_epsilon.</summary>
    public required float RmsEps { get; init; }
    /// <summary>{arch}.rope.freq_base (rope_theta); 10000 when absent, as in llama.cpp.</summary>
    public required float RopeFreqBase { get; init; }
    /// <summary>{arch}.rope.dimension_count: how many dimensions of each head rotate (all by default).</summary>
    public required int RopeDimensions { get; init; }
    /// <summary>True for NeoX-style RoPE (rotate halves), false for interleaved pairs.</summary>
    public required bool RopeNeox { get; init; }
    /// <summary>Linear RoPE scaling: positions are multiplied by this (1 / {arch}.rope.scaling.factor).</summary>
    public float RopeFreqScale { get; init; } = 1f;

    public int QueryDim => HeadCount * HeadDim;
    public int KvDim => HeadCountKv * HeadDim;

    public static ModelConfig FromMetadata(string path, IReadOnlyDictionary<string, GgufValue> md, string arch, int vocabSize, bool ropeNeox)
    {
        var m = new MetadataReader(path, md);
        int dim = m.Int($"{arch}.embedding_length");
        int heads = m.Int($"{arch}.attention.head_count");
        if (heads <= 0) throw m.Bad($"{arch}.attention.head_count", "must be positive");
        int kvHeads = m.Int($"{arch}.attention.head_count_kv", heads);
        if (kvHeads <= 0 || heads % kvHeads != 0)
            throw m.Bad($"{arch}.attention.head_count_kv", $"{kvHeads} does not divide the head count {heads}");
        int headDim = m.Int($"{arch}.attention.key_length", dim / heads);
        int ropeDims = m.Int($"{arch}.rope.dimension_count", headDim);
        if (ropeDims <= 0 || ropeDims > headDim || ropeDims % 2 != 0)
            throw m.Bad($"{arch}.rope.dimension_count", $"{ropeDims} does not suit head size {headDim}");
        return new ModelConfig
        {
            Architecture = arch,
            VocabSize = vocabSize,
            EmbeddingLength = dim,
            BlockCount = m.Int($"{arch}.block_count"),
            HeadCount = heads,
            HeadCountKv = kvHeads,
            HeadDim = headDim,
            FeedForwardLength = m.Int($"{arch}.feed_forward_length"),
            ContextLength = m.Int($"{arch}.context_length", 2048),
            RmsEps = m.Float($"{arch}.attention.layer_norm_rms_epsilon", 1e-5f),
            RopeFreqBase = m.Float($"{arch}.rope.freq_base", 10000f),
            RopeDimensions = ropeDims,
            RopeNeox = ropeNeox,
            RopeFreqScale = RopeScale(m, arch),
        };
    }

    /// <summary>llama.cpp's freq_scale: 1 / factor for linear scaling (or the older rope.scale_linear key).</summary>
    static float RopeScale(MetadataReader m, string arch)
    {
        string type = m.String($"{arch}.rope.scaling.type") ?? "none";
        switch (type)
        {
            case "none":
                float legacy = m.Float($"{arch}.rope.scale_linear", 1f);
                return 1f / legacy;
            case "linear":
                return 1f / m.Float($"{arch}.rope.scaling.factor", 1f);
            default:
                throw m.Bad($"{arch}.rope.scaling.type", $"is '{type}'; only linear RoPE scaling (and Llama 3's rope_freqs) is supported");
        }
    }
}

/// <summary>Typed access to GGUF-keyed metadata with errors that name the file and the key.</summary>
public readonly struct MetadataReader(string path, IReadOnlyDictionary<string, GgufValue> md)
{
    const int MaxDimension = 1 << 24;

    public string? String(string key) =>
        md.TryGetValue(key, out var v) ? v.Value as string ?? throw Bad(key, $"has type {v.Type}, expected a string") : null;

    public int Int(string key, int? fallback = null)
    {
        if (!md.TryGetValue(key, out var v))
            return fallback ?? throw new InvalidModelFileException(path, $"metadata key '{key}' is missing");
        if (!v.IsInteger) throw Bad(key, $"has type {v.Type}, expected an integer");
        long x = v.AsInt64();
        if (x <= 0 || x > MaxDimension) throw Bad(key, $"is {x}, expected 1..{MaxDimension}");
        return (int)x;
    }

    public float Float(string key, float fallback)
    {
        if (!md.TryGetValue(key, out var v)) return fallback;
        double d = v.IsInteger || v.Type is GgufValueType.Float32 or GgufValueType.Float64
            ? v.AsDouble() : throw Bad(key, $"has type {v.Type}, expected a number");
        if (!double.IsFinite(d) || d <= 0) throw Bad(key, $"is {d}, expected a positive number");
        return (float)d;
    }

    public InvalidModelFileException Bad(string key, string what) => new(path, $"metadata key '{key}' {what}");
}
