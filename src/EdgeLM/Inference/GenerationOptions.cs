// What to generate: how many tokens, how to sample, where to stop.
namespace EdgeLM.Inference;

public sealed record GenerationOptions
{
    /// <summary>Most tokens to generate; negative: until end of generation or a full context.</summary>
    public int MaxTokens { get; init; } = 256;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Generation ends where one of these appears; the stop string itself is not returned.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>Put BOS before the prompt; null follows the model's tokenizer (tokenizer.ggml.add_bos_token).</summary>
    public bool? AddBos { get; init; }
    /// <summary>Treat special-token text in the prompt (e.g. &lt;|im_start|&gt;) as those tokens, as chat templates need.</summary>
    public bool ParseSpecial { get; init; } = true;
}

/// <summary>Why generation ended.</summary>
public enum StopReason
{
    None,
    MaxTokens,
    EndOfGeneration,
    StopString,
    ContextFull,
}
