// The hook the training Transformer calls around each block projection (attn_q/k/v/output,
// ffn_gate/up/down), so that low-rank adapters (LoRA) add their term without the Transformer knowing
// about them. Not an adapter itself: see LoraLayers.
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training.Lora;

/// <summary>Which projection of a decoder block a linear layer is, in GGUF order.</summary>
public enum LinearTarget { AttnQ, AttnK, AttnV, AttnOutput, FfnGate, FfnUp, FfnDown }

/// <summary>Runs after a block projection's forward (output (N, OC) of input (N, C)) and after its backward.</summary>
public interface ILinearHook
{
    /// <summary>True when the base weights are frozen: the Transformer then computes no gradient for its matrices.</summary>
    bool FreezeBase { get; }

    /// <summary>output (N, OC) += the hook's term for input (N, C).</summary>
    void Forward(int layer, LinearTarget target, Span<float> output, ReadOnlySpan<float> input, int N, int C, int OC, WorkerPool? pool);

    /// <summary>dinput (N, C) += the hook's share of the input gradient given doutput (N, OC); the hook
    /// accumulates its own parameters' gradients.</summary>
    void Backward(int layer, LinearTarget target, Span<float> dinput, ReadOnlySpan<float> doutput, ReadOnlySpan<float> input,
        int N, int C, int OC, WorkerPool? pool);
}

public static class LinearTargets
{
    /// <summary>The short names the command line uses (PEFT's q,k,v,o,gate,up,down), in LinearTarget order.</summary>
    public static readonly string[] ShortNames = ["q", "k", "v", "o", "gate", "up", "down"];

    /// <summary>The GGUF tensor a target of layer <paramref name="layer"/> adapts.</summary>
    public static string TensorName(int layer, LinearTarget t) => t switch
    {
        LinearTarget.AttnQ => Models.TensorNames.AttnQ(layer),
        LinearTarget.AttnK => Models.TensorNames.AttnK(layer),
        LinearTarget.AttnV => Models.TensorNames.AttnV(layer),
        LinearTarget.AttnOutput => Models.TensorNames.AttnOutput(layer),
        LinearTarget.FfnGate => Models.TensorNames.FfnGate(layer),
        LinearTarget.FfnUp => Models.TensorNames.FfnUp(layer),
        _ => Models.TensorNames.FfnDown(layer),
    };

    /// <summary>Parses "q,k,v,o,gate,up,down" (any subset, any order); unknown names are an error that lists the known ones.</summary>
    public static IReadOnlyList<LinearTarget> Parse(string list)
    {
        var result = new List<LinearTarget>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int i = Array.IndexOf(ShortNames, part.ToLowerInvariant());
            if (i < 0) throw new ArgumentException($"unknown LoRA target '{part}'; known targets: {string.Join(",", ShortNames)}");
            if (!result.Contains((LinearTarget)i)) result.Add((LinearTarget)i);
        }
        if (result.Count == 0) throw new ArgumentException("no LoRA target given");
        return result;
    }
}
