// Options several commands share: sampling, threads, context, tokenizer.
using System.CommandLine;
using EdgeLM.Inference;

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
    public Option<int> Batch { get; } = new("--batch", "-b") { Description = "tokens per forward pass when reading a prompt", DefaultValueFactory = _ => 64 };
    public Option<string?> Tokenizer { get; } = new("--tokenizer") { Description = "tokenizer file to use instead of the model's own" };
    public Option<string[]> Lora { get; } = new("--lora")
    {
        Description = "apply a LoRA adapter without merging: ADAPTER[:SCALE], a GGUF adapter or a PEFT folder, scale 1 by default (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };

    public void AddTo(Command c)
    {
        c.Options.Add(Threads);
        c.Options.Add(Context);
        c.Options.Add(Batch);
        c.Options.Add(Tokenizer);
        c.Options.Add(Lora);
    }

    public LoadOptions Load(ParseResult r) => new()
    {
        TokenizerPath = r.GetValue(Tokenizer),
        Adapters = [.. (r.GetValue(Lora) ?? []).Select(EdgeLM.Models.Lora.LoraRequest.Parse)],
    };

    public SessionOptions Session(ParseResult r) => new()
    {
        Threads = r.GetValue(Threads),
        ContextLength = r.GetValue(Context),
        BatchSize = r.GetValue(Batch),
    };
}

/// <summary>A progress line on stderr with rate and time left, redrawn in place.</summary>
public sealed class ProgressLine(string what, string unit) : IProgress<(int Done, int Total)>
{
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    long _lastDraw;

    public void Report((int Done, int Total) p)
    {
        long now = _clock.ElapsedMilliseconds;
        if (p.Done < p.Total && now - _lastDraw < 200) return;
        _lastDraw = now;
        double secs = Math.Max(1e-3, _clock.Elapsed.TotalSeconds);
        double rate = p.Done / secs;
        double left = rate > 0 ? (p.Total - p.Done) / rate : 0;
        Console.Error.Write($"\r{what}: {p.Done}/{p.Total} {unit} ({rate:F1}/s, {left:F0}s left)   ");
        if (p.Done >= p.Total) Console.Error.WriteLine();
    }
}
