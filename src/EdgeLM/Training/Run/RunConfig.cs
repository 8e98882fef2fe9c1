// The settings of one training run (`edgelm train`), as a typed record with reasoned defaults. Its
// JSON form uses the command-line flag names without dashes ("kv-heads", "save-every"), so a
// --config file, the flags and the run folder's config.json are one vocabulary; unknown keys are an
// error that names them. Not the CLI: flag parsing lives there; not the loop: see TrainingRun.
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace EdgeLM.Training.Run;

public sealed record RunConfig
{
    /// <summary>A UTF-8 text file, or a folder of .txt / .md files (one document each).</summary>
    [JsonPropertyName("data")] public string? Data { get; init; }
    /// <summary>The run folder: model.gguf, checkpoints/, metrics.csv, loss.png, config.json.</summary>
    [JsonPropertyName("out")] public string? Out { get; init; }

    [JsonPropertyName("arch")] public string Arch { get; init; } = "llama";
    [JsonPropertyName("layers")] public int Layers { get; init; } = 2;
    [JsonPropertyName("dim")] public int Dim { get; init; } = 64;
    [JsonPropertyName("heads")] public int Heads { get; init; } = 4;
    /// <summary>Key/value heads (grouped-query attention); default: Heads.</summary>
    [JsonPropertyName("kv-heads")] public int? KvHeads { get; init; }
    /// <summary>Default: Dim / Heads.</summary>
    [JsonPropertyName("head-dim")] public int? HeadDim { get; init; }
    /// <summary>SwiGLU width; default: 8/3 · Dim rounded up to a multiple of 32 (LLaMA's rule).</summary>
    [JsonPropertyName("ffn")] public int? Ffn { get; init; }
    /// <summary>Context length of the model, and the length of every training window.</summary>
    [JsonPropertyName("ctx")] public int Ctx { get; init; } = 128;
    /// <summary>Output head shares the token embedding (small models spend most parameters there).</summary>
    [JsonPropertyName("tied")] public bool Tied { get; init; } = true;

    /// <summary>"byte" (259 ids: unk, BOS, EOS, 256 bytes), a tokenizer path, or "train" (byte-level BPE of Vocab ids).</summary>
    [JsonPropertyName("tokenizer")] public string? Tokenizer { get; init; }
    /// <summary>Vocabulary of a tokenizer trained on the data; with no --tokenizer, implies "train".</summary>
    [JsonPropertyName("vocab")] public int? Vocab { get; init; }

    [JsonPropertyName("steps")] public int Steps { get; init; } = 1000;
    /// <summary>Windows per micro-batch.</summary>
    [JsonPropertyName("batch")] public int Batch { get; init; } = 8;
    [JsonPropertyName("grad-accum")] public int GradAccum { get; init; } = 1;
    [JsonPropertyName("lr")] public float Lr { get; init; } = 1e-3f;
    /// <summary>Default: Lr / 10.</summary>
    [JsonPropertyName("min-lr")] public float? MinLr { get; init; }
    [JsonPropertyName("warmup")] public int Warmup { get; init; } = 20;
    [JsonPropertyName("weight-decay")] public float WeightDecay { get; init; } = 0.1f;
    [JsonPropertyName("grad-clip")] public float GradClip { get; init; } = 1f;
    [JsonPropertyName("seed")] public int Seed { get; init; } = 1;
    /// <summary>Default: one per core.</summary>
    [JsonPropertyName("threads")] public int? Threads { get; init; }

    /// <summary>The last fraction of the token stream is held out for validation.</summary>
    [JsonPropertyName("val-fraction")] public double ValFraction { get; init; } = 0.1;
    [JsonPropertyName("eval-every")] public int EvalEvery { get; init; } = 100;
    /// <summary>Batches of consecutive validation windows per evaluation.</summary>
    [JsonPropertyName("eval-batches")] public int EvalBatches { get; init; } = 8;
    [JsonPropertyName("save-every")] public int SaveEvery { get; init; } = 100;
    /// <summary>Checkpoints kept (the newest ones).</summary>
    [JsonPropertyName("keep")] public int Keep { get; init; } = 2;
    /// <summary>Tensor type of the exported model's matrices (F32, F16, Q8_0, ...).</summary>
    [JsonPropertyName("type")] public string Type { get; init; } = "F32";

    public int EffectiveKvHeads => KvHeads ?? Heads;
    public int EffectiveHeadDim => HeadDim ?? (Heads > 0 ? Dim / Heads : 0);
    public int EffectiveFfn => Ffn ?? (8 * Dim / 3 + 31) / 32 * 32;

    static readonly JsonSerializerOptions Json = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Reads a config object; an unknown key or a wrong type is an error naming the file.</summary>
    public static RunConfig FromJson(JsonNode? node, string source)
    {
        try
        {
            return node.Deserialize<RunConfig>(Json) ?? throw new JsonException("the config is null");
        }
        catch (JsonException e)
        {
            throw new JsonException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>The JSON object of a config file (a missing file is an error naming it).</summary>
    public static JsonObject ReadObject(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not a JSON object");
        }
        catch (JsonException e)
        {
            throw new JsonException($"{path}: {e.Message}", e);
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public JsonObject ToJsonObject() => (JsonObject)JsonSerializer.SerializeToNode(this, Json)!;

    /// <summary>Checks every value a run needs; the message names the flag.</summary>
    public void Validate()
    {
        if (string.IsNullOrEmpty(Data)) throw new ArgumentException("--data is required (a text file or a folder of .txt/.md files)");
        if (string.IsNullOrEmpty(Out)) throw new ArgumentException("--out is required (the run folder)");
        Positive(Layers, "layers"); Positive(Dim, "dim"); Positive(Heads, "heads"); Positive(EffectiveKvHeads, "kv-heads");
        Positive(EffectiveHeadDim, "head-dim"); Positive(EffectiveFfn, "ffn"); Positive(Ctx, "ctx"); Positive(Steps, "steps");
        Positive(Batch, "batch"); Positive(GradAccum, "grad-accum"); Positive(EvalEvery, "eval-every"); Positive(SaveEvery, "save-every");
        Positive(EvalBatches, "eval-batches"); Positive(Keep, "keep");
        if (Heads % EffectiveKvHeads != 0) throw new ArgumentException($"--heads {Heads} is not a multiple of --kv-heads {EffectiveKvHeads}");
        if (EffectiveHeadDim % 2 != 0) throw new ArgumentException($"--head-dim {EffectiveHeadDim} must be even (RoPE rotates pairs)");
        if (!(Lr > 0)) throw new ArgumentException($"--lr {Lr} must be positive");
        if (Warmup < 0) throw new ArgumentException($"--warmup {Warmup} must not be negative");
        if (!(ValFraction > 0 && ValFraction < 1)) throw new ArgumentException($"--val-fraction {ValFraction} must be between 0 and 1");
        if (Threads is < 0) throw new ArgumentException($"--threads {Threads} must not be negative");
    }

    static void Positive(int value, string flag)
    {
        if (value <= 0) throw new ArgumentException($"--{flag} {value} must be positive");
    }

    /// <summary>The model shape for a vocabulary of <paramref name="vocab"/> ids.</summary>
    public TransformerConfig Model(int vocab) =>
        TransformerConfig.Create(Arch, vocab, Dim, Layers, Heads, EffectiveKvHeads, EffectiveHeadDim, EffectiveFfn, Ctx, Tied);

    public TrainingOptions Training() => new()
    {
        Steps = Steps,
        MaxLearningRate = Lr,
        MinLearningRate = MinLr ?? Lr / 10,
        WarmupSteps = Math.Min(Warmup, Steps),
        AccumulationSteps = GradAccum,
        GradClip = GradClip,
        Adam = new AdamWOptions { WeightDecay = WeightDecay },
        Seed = Seed,
    };
}
