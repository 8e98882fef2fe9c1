// RMS normalisation as ggml computes it (ggml_compute_forward_rms_norm_f32 followed by ggml_mul):
// y = x / sqrt(mean(x^2) + eps) * w. ggml sums the squares in double; the vector sum here is in
// float lanes, which differs by far less than the tolerances the model tests use.
using System.Numerics.Tensors;

namespace EdgeLM.Kernels;

public static class Norm
{
    /// <summary>y = x * rsqrt(mean(x²) + eps) * w. x, y and w have the same length; y may alias x.</summary>
    public static void RmsNorm(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> w, float eps)
    {
        float scale = RmsScale(x, eps);
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Multiply(y, w, y);
    }

    /// <summary>1 / sqrt(mean(x²) + eps).</summary>
    public static float RmsScale(ReadOnlySpan<float> x, float eps)
    {
        float mean = TensorPrimitives.SumOfSquares(x) / x.Length;
        return 1.0f / MathF.Sqrt(mean + eps);
    }

    /// <summary>Scalar reference: the plain loop, summing in double as ggml does.</summary>
    public static void RmsNormReference(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> w, float eps)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += (double)(x[i] * x[i]);
        float scale = 1.0f / MathF.Sqrt((float)(sum / x.Length) + eps);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * scale * w[i];
    }
}
