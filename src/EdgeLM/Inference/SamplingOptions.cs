// Sampling settings, with llama.cpp's defaults (common_params_sampling).
namespace EdgeLM.Inference;

public sealed record SamplingOptions
{
    /// <summary>Softmax temperature; 0 or less means greedy (always the most likely token).</summary>
    public float Temperature { get; init; } = 0.8f;
    /// <summary>Keep only the K most likely tokens; 0 disables.</summary>
    public int TopK { get; init; } = 40;
    /// <summary>Keep the smallest set of tokens whose probabilities add up to P; 1 disables.</summary>
    public float TopP { get; init; } = 0.95f;
    /// <summary>Drop tokens less likely than MinP times the most likely one; 0 disables.</summary>
    public float MinP { get; init; } = 0.05f;
    /// <summary>Divide positive (multiply negative) logits of recently seen tokens; 1 disables.</summary>
    public float RepeatPenalty { get; init; } = 1.0f;
    /// <summary>Subtracted once from the logit of every recently seen token.</summary>
    public float PresencePenalty { get; init; }
    /// <summary>Subtracted from a recently seen token's logit once per occurrence.</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>How many of the last tokens the penalties look at.</summary>
    public int PenaltyLastN { get; init; } = 64;
    /// <summary>Random seed; the same seed with the same settings gives the same output. Null: random.</summary>
    public int? Seed { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    /// <summary>Throws ArgumentException naming the first setting out of range.</summary>
    public void Validate()
    {
        if (float.IsNaN(Temperature)) throw new ArgumentException("temperature is NaN");
        if (TopK < 0) throw new ArgumentException($"top-k must be 0 or more, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p must be in (0, 1], got {TopP}");
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentException($"min-p must be in [0, 1], got {MinP}");
        if (!(RepeatPenalty > 0)) throw new ArgumentException($"repeat penalty must be positive, got {RepeatPenalty}");
        if (PenaltyLastN < 0) throw new ArgumentException($"penalty window must be 0 or more, got {PenaltyLastN}");
    }
}
