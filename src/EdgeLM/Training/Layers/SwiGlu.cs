// Training layer: SwiGLU, the engine's Activations.SwiGlu: out = silu(gate) · up, silu(x) = x·σ(x).
// Legend: N = B·T, F = feed-forward width.
namespace EdgeLM.Training.Layers;

public static class SwiGlu
{
    /// <summary>out (N·F) = silu(gate) · up.</summary>
    public static void Forward(Span<float> output, ReadOnlySpan<float> gate, ReadOnlySpan<float> up, int count) =>
        Kernels.Activations.SwiGlu(output[..count], gate[..count], up[..count]);

    /// <summary>dgate, dup (N·F) += gradients of out given dout.</summary>
    public static void Backward(Span<float> dgate, Span<float> dup, ReadOnlySpan<float> dout, ReadOnlySpan<float> gate,
        ReadOnlySpan<float> up, int count)
    {
        for (int i = 0; i < count; i++)
        {
            float g = gate[i];
            float sig = 1.0f / (1.0f + MathF.Exp(-g));
            float silu = g * sig;
            // forward: out = g σ(g) · up;  d silu/dg = σ(g) (1 + g (1 - σ(g)))
            dup[i] += dout[i] * silu;
            dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
        }
    }

    /// <summary>Backward when the gate and up activations are not needed afterwards: gate and up (N·F) are replaced
    /// by their gradients given dout, computed as <see cref="Backward"/> computes them into zeroed buffers.</summary>
    public static void BackwardInPlace(Span<float> gateToDgate, Span<float> upToDup, ReadOnlySpan<float> dout, int count)
    {
        for (int i = 0; i < count; i++)
        {
            float g = gateToDgate[i], up = upToDup[i];
            float sig = 1.0f / (1.0f + MathF.Exp(-g));
            float silu = g * sig;
            // as Backward's dup[i] += ... on a zeroed buffer: 0 + x (turns a -0 product into +0, bit for bit the same)
            upToDup[i] = 0f + dout[i] * silu;
            gateToDgate[i] = 0f + dout[i] * up * sig * (1.0f + g * (1.0f - sig));
        }
    }
}
