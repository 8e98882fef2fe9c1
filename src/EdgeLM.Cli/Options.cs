// Options several commands share: sampling, threads, context, tokenizer.
using System.CommandLine;
using EdgeLM.Inference;
using EdgeLM.Models;
using EdgeLM.Tensors;

namespace EdgeLM.Cli;

public sealed class SamplingFlags
{
    public Option<int> Predict { get; } = new("-n", "--n-predict") { Description = "tokens to generate (-1: until end of text or a full context)", DefaultValueFactory = _ => -1 };
    public Option<float> Temp { get; } = new("--temp") { Description = "temperature (0: greedy)", DefaultValueFactory = _ => 0.8f };
    public Option<int> TopK { get; } = new("--top-k") { Description = "top-k sampling (0: off)", DefaultValueFactory = _ => 40 };
    public Option<float> TopP { get; } = new("--top-p") { Description = "top-p sampling (1: off)", DefaultValueFactory = _ => 0.95f };
    public Option<float> MinP { get; } = new("--min-p") { Description = "min-p sampling (0: off)", DefaultValueFactory = _ => 0.05f };
    public Option<float> RepeatPenalty { get; } = new("--repeat-penalty") { Description = "penalise repeated tokens (1: off)", DefaultValueFactory = _ => 1.0f };
    public Option<float> PresencePenalty { get; } = new("--presence-penalty") { Description = "presence penalty (0: off)" };
    public Option<float> FrequencyPenalty { get; } = new("--frequency-penalty") { Description = "frequency penalty (0: off)" };
    public Option<int> RepeatLastN { get; } = new("--repeat-last-n") { Description = "how many recent tokens the penalties consider", DefaultValueFactory = _ => 64 };
    public Option<int?> Seed { get; } = new("--seed", "-s") { Description = "random seed (default: random)" };
    public Option<string[]> Stop { get; } = new("--stop") { Description = "stop where this text appears (repeatable)", AllowMultipleArgumentsPerToken = false };

    public void AddTo(Command c)
    {
        foreach (var o in new Option[] { Predict, Temp, TopK, TopP, MinP, RepeatPenalty, PresencePenalty, FrequencyPenalty, RepeatLastN, Seed, Stop })
            c.Options.Add(o);
    }

    public GenerationOptions Read(ParseResult r) => new()
    {
        MaxTokens = r.GetValue(Predict),
        Stop = r.GetValue(Stop) ?? [],
        Sampling = new SamplingOptions
        {
            Temperature = r.GetValue(Temp),
            TopK = r.GetValue(TopK),
            TopP = r.GetValue(TopP),
            MinP = r.GetValue(MinP),
            RepeatPenalty = r.GetValue(RepeatPenalty),
            PresencePenalty = r.GetValue(PresencePenalty),
            FrequencyPenalty = r.GetValue(FrequencyPenalty),
            PenaltyLastN = r.GetValue(RepeatLastN),
            Seed = r.GetValue(Seed) is int s && s >= 0 ? s : null,
        },
    };
}

public sealed class SessionFlags
{
    public Option<int?> Threads { get; } = new("--threads", "-t") { Description = "worker threads (default: one per core)" };
    public Option<int?> Context { get; } = new("--ctx", "-c") { Description = "context length in tokens (default: the model's, at most 4096)" };
    public Option<int> Batch { get; } = new("--batch", "-b") { Description = "tokens per forward pass when reading a prompt", DefaultValueFactory = _ => 256 };
    public Option<string?> Tokenizer { get; } = new("--tokenizer") { Description = "tokenizer file to use instead of the model's own" };
    public CacheFlags Cache { get; } = new();
    public LoraFlag Lora { get; } = new();
    public Option<bool> NoRepack { get; } = NoRepackFlag.Create();

    public void AddTo(Command c)
    {
        c.Options.Add(Threads);
        c.Options.Add(Context);
        c.Options.Add(Batch);
        c.Options.Add(Tokenizer);
        Cache.AddTo(c);
        Lora.AddTo(c);
        c.Options.Add(NoRepack);
    }

    public LoadOptions Load(ParseResult r) => new()
    {
        TokenizerPath = r.GetValue(Tokenizer),
        Adapters = Lora.Read(r),
        Repack = !r.GetValue(NoRepack),
    };

    public SessionOptions Session(ParseResult r) => new()
    {
        Threads = r.GetValue(Threads),
        ContextLength = r.GetValue(Context),
        BatchSize = r.GetValue(Batch),
        KeyCacheType = Cache.Keys(r),
        ValueCacheType = Cache.Values(r),
    };
}

/// <summary>llama.cpp's --no-repack: keep the weights as mapped from the file (LoadOptions.Repack off).</summary>
public static class NoRepackFlag
{
    public static Option<bool> Create() => new("--no-repack")
    {
        Description = "do not repack weights (or read the others into memory) at load for faster decoding: everything stays mapped from the file (slower decode)",
    };
}

/// <summary>llama.cpp's --lora ADAPTER[:SCALE] (repeatable): adapters applied without merging.</summary>
public sealed class LoraFlag
{
    public Option<string[]> Option { get; } = new("--lora")
    {
        Description = "apply a LoRA adapter without merging: ADAPTER[:SCALE], a GGUF adapter or a PEFT folder, scale 1 by default (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };

    public void AddTo(Command c) => c.Options.Add(Option);

    public EdgeLM.Models.Lora.LoraRequest[] Read(ParseResult r) =>
        [.. (r.GetValue(Option) ?? []).Select(EdgeLM.Models.Lora.LoraRequest.Parse)];
}

/// <summary>llama.cpp's --cache-type-k / --cache-type-v (-ctk / -ctv): the KV cache's types.</summary>
public sealed class CacheFlags
{
    public Option<string> KeyType { get; } = new("--cache-type-k", "-ctk") { Description = "KV cache type for keys: f32, f16 or q8_0", DefaultValueFactory = _ => "f16" };
    public Option<string> ValueType { get; } = new("--cache-type-v", "-ctv") { Description = "KV cache type for values: f32, f16 or q8_0", DefaultValueFactory = _ => "f16" };

    public void AddTo(Command c)
    {
        c.Options.Add(KeyType);
        c.Options.Add(ValueType);
    }

    public GgmlType Keys(ParseResult r) => Parse(r.GetValue(KeyType)!, "--cache-type-k");
    public GgmlType Values(ParseResult r) => Parse(r.GetValue(ValueType)!, "--cache-type-v");

    static GgmlType Parse(string name, string flag) =>
        GgmlTypes.TryParse(name, out var t) && Array.IndexOf(KvCache.SupportedTypes, t) >= 0
            ? t
            : throw new ArgumentException($"{flag} '{name}' is not a KV cache type (f32, f16 or q8_0)");
}

/// <summary>A progress line on stderr with rate and time left, redrawn in place.</summary>
public sealed class ProgressLine(string what, string unit) : IProgress<(int Done, int Total)>
{
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    long _lastDraw;

    public void Report((int Done, int Total) p)
    {
        if (!Due(p.Done, p.Total)) return;
        double secs = Math.Max(1e-3, _clock.Elapsed.TotalSeconds);
        double rate = p.Done / secs;
        double left = rate > 0 ? (p.Total - p.Done) / rate : 0;
        Draw($"{what}: {p.Done}/{p.Total} {unit} ({rate:F1}/s, {left:F0}s left)", p.Done >= p.Total);
    }

    /// <summary>Draws <paramref name="detail"/> after "what: done/total" (at most five times a second, and always the last).</summary>
    public void Report(int done, int total, string detail)
    {
        if (Due(done, total)) Draw($"{what} {done}/{total} {detail}", done >= total);
    }

    bool Due(int done, int total)
    {
        long now = _clock.ElapsedMilliseconds;
        if (done < total && now - _lastDraw < 200) return false;
        _lastDraw = now;
        return true;
    }

    static void Draw(string line, bool last)
    {
        Console.Error.Write($"\r{line}   ");
        if (last) Console.Error.WriteLine();
    }
}
