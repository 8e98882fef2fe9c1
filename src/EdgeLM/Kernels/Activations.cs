// Element-wise activations and softmax, on TensorPrimitives where it has the operation.
using System.Numerics.Tensors;

namespace EdgeLM.Kernels;

public static class Activations
{
    /// <summary>SwiGLU: y = silu(gate) * up, silu(x) = x / (1 + e^-x) as ggml_silu_f32.</summary>
    /// y may alias gate or up: the work goes through a small stack buffer in chunks. A chunk shorter than
    /// a vector is zero-padded to one, since TensorPrimitives takes its scalar path (a different exp, an ulp
    /// apart) below a vector's length: so each value's result is the same however the rows are chunked
    /// (one call over (T, FF) or one per row, on any thread).
    public static void SwiGlu(Span<float> y, ReadOnlySpan<float> gate, ReadOnlySpan<float> up)
    {
        const int Chunk = 256, Pad = 16;
        Span<float> sig = stackalloc float[Chunk];
        for (int i = 0; i < y.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, y.Length - i);
            var g = gate.Slice(i, n);
            var s = sig[..n];
            if (n < Pad)
            {
                sig[..Pad].Clear();
                g.CopyTo(sig);
                TensorPrimitives.Sigmoid(sig[..Pad], sig[..Pad]);
            }
            else
            {
                TensorPrimitives.Sigmoid(g, s);
            }
            TensorPrimitives.Multiply(s, g, s);
            TensorPrimitives.Multiply(s, up.Slice(i, n), y.Slice(i, n));
        }
    }

    /// <summary>Scalar reference for <see cref="SwiGlu"/>.</summary>
    public static void SwiGluReference(Span<float> y, ReadOnlySpan<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < y.Length; i++)
            y[i] = gate[i] / (1.0f + MathF.Exp(-gate[i])) * up[i];
    }

    /// <summary>In-place softmax with the maximum subtracted first.</summary>
    public static void Softmax(Span<float> x)
    {
        if (x.IsEmpty) return;
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        float sum = TensorPrimitives.Sum(x);
        TensorPrimitives.Multiply(x, 1.0f / sum, x);
    }

    /// <summary>log(sum(exp(x))), stable; for log-probabilities in perplexity.</summary>
    public static double LogSumExp(ReadOnlySpan<float> x)
    {
        float max = TensorPrimitives.Max(x);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += Math.Exp(x[i] - max);
        return max + Math.Log(sum);
    }
}
