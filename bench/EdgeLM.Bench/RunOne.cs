// One engine on one model in this process: the child side of "compare". Timings are medians over
// repeats, each repeat from an empty KV cache; a warm-up pass (JIT, page faults of the mapped
// weights, lazily sized scratch) runs first and is not counted. Prompt ids are random words from
// a fixed seed, the same for both engines.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeLM.Bench;

/// <summary>What run-one measures. Prompt = prefill length; Decode = tokens generated after
/// DecodePrompt tokens (or after LongContext tokens with Long).</summary>
public sealed record RunOneOptions(
    string Engine, string Model, int Threads, int Prompt = 512, int Decode = 128, int DecodePrompt = 16,
    int Repeats = 5, int MaxBatch = 64, bool Long = false, int LongContext = 2048, int Seed = 42, bool PeerMmap = true)
{
    /// <summary>Tokens already in the KV cache when the timed decode starts.</summary>
    public int DecodeStart => Long ? LongContext : DecodePrompt;
    /// <summary>Context length both engines are given: room for the larger of the two phases.</summary>
    public int ContextLength => Math.Max(Prompt, DecodeStart + Decode) + 16;

    public static RunOneOptions Parse(ArgReader a)
    {
        var o = new RunOneOptions(
            Engine: a.Required("--engine"), Model: a.Required("--model"), Threads: a.Int("--threads", 1),
            Prompt: a.Int("-p", 512), Decode: a.Int("-n", 128), DecodePrompt: a.Int("--decode-prompt", 16),
            Repeats: a.Int("--repeats", 5), MaxBatch: a.Int("--max-batch", 256), Long: a.Flag("--long"),
            LongContext: a.Int("--long-context", 2048), Seed: a.Int("--seed", 42), PeerMmap: ParseMmap(a.String("--llamacpp-mmap", "1")!));
        if (o.Engine is not ("edgelm" or "llamacpp")) throw new ArgumentException($"--engine must be edgelm or llamacpp, not '{o.Engine}'");
        if (o.Threads < 1 || o.Repeats < 1 || o.MaxBatch < 1 || o.Decode < 1 || o.Prompt < 1)
            throw new ArgumentException("--threads, --repeats, --max-batch, -n and -p must be at least 1");
        return o;
    }

    /// <summary>llama-bench's -mmp: 1 maps the model file (llama.cpp's default), 0 reads it into memory
    /// (LLamaSharp's default load).</summary>
    public static bool ParseMmap(string v) => v switch
    {
        "1" => true,
        "0" => false,
        _ => throw new ArgumentException($"--llamacpp-mmap takes 0 or 1, not '{v}'"),
    };

    /// <summary>The arguments that reproduce these options in a child process.</summary>
    public IEnumerable<string> ToArgs()
    {
        string[] args = ["run-one", "--engine", Engine, "--model", Model, "--threads", I(Threads), "-p", I(Prompt), "-n", I(Decode),
            "--decode-prompt", I(DecodePrompt), "--repeats", I(Repeats), "--max-batch", I(MaxBatch),
            "--long-context", I(LongContext), "--seed", I(Seed), "--llamacpp-mmap", PeerMmap ? "1" : "0", "--json"];
        return Long ? [.. args, "--long"] : args;
        static string I(int v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Random word ids (never BOS/EOS/byte tokens) for the prompt, reproducible from the seed.</summary>
    public int[] Tokens(int count, int vocab, int salt)
    {
        var rng = new Random(Seed * 31 + salt);
        var ids = new int[count];
        int lo = Math.Min(Models.RandomModel.FirstWordToken, vocab - 1);
        for (int i = 0; i < count; i++) ids[i] = rng.Next(lo, vocab);
        return ids;
    }
}

/// <summary>What one engine measured; the JSON line a child prints.</summary>
public sealed record RunOneResult
{
    public required string Engine { get; init; }
    public required string Model { get; init; }
    public required int Threads { get; init; }
    public required double LoadMs { get; init; }
    public required int PromptTokens { get; init; }
    public required double PrefillTokensPerSecond { get; init; }
    public required double[] PrefillSamples { get; init; }
    public required int DecodeTokens { get; init; }
    /// <summary>Tokens in the KV cache when the timed decode started.</summary>
    public required int DecodeStart { get; init; }
    public required double DecodeTokensPerSecond { get; init; }
    public required double[] DecodeSamples { get; init; }
    /// <summary>Micro-batch: EdgeLM's maxBatch, llama.cpp's n_ubatch.</summary>
    public required int Batch { get; init; }
    public required long KvCacheBytes { get; init; }
    public required MemoryUse Memory { get; init; }
    /// <summary>Managed bytes the calling thread allocated over the timed decode loops after warm-up (EdgeLM only).</summary>
    public long? DecodeAllocatedBytes { get; init; }
    /// <summary>The same per repeat: a first repeat that allocates and later ones that do not point at
    /// scratch that grows on first use (e.g. the first time the cache reaches a new length).</summary>
    public long[] DecodeAllocatedPerRepeat { get; init; } = [];
    /// <summary>Greedy tokens of the last decode, so a reader can see both engines ran the same model.</summary>
    public int[] FirstDecodedTokens { get; init; } = [];

    /// <summary>NaN stands for "not measured" (a roofline without a result), so named literals are allowed.</summary>
    public static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static RunOneResult FromJson(string line) =>
        JsonSerializer.Deserialize<RunOneResult>(line, Json) ?? throw new FormatException("empty run-one result");
}
