// Training layer: RMS normalisation with a learned scale, as the engine's Norm.RmsNorm (ggml rms_norm
// followed by mul): y = x · rstd · w, rstd = 1 / sqrt(mean(x²) + eps). Used for attn_norm, ffn_norm,
// output_norm over rows of C, and for qwen3's per-head q/k norms over rows of D (N·H rows sharing
// one weight of length D), so the per-head norm is the same pair of functions.
// Legend: N = rows (B·T, or B·T·H per head), C = row length.
using System.Numerics.Tensors;

namespace EdgeLM.Training.Layers;

public static class RmsNorm
{
    /// <summary>out (N, C) = inp (N, C) · rstd · weight (C); rstd (N) is kept for the backward pass.</summary>
    public static void Forward(Span<float> output, Span<float> rstd, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int N, int C, float eps)
    {
        for (int n = 0; n < N; n++)
        {
            var x = inp.Slice(n * C, C);
            var y = output.Slice(n * C, C);
            float s = 1.0f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / C + eps);
            rstd[n] = s;
            TensorPrimitives.Multiply(x, s, y);
            TensorPrimitives.Multiply(y, weight, y);
        }
    }

    /// <summary>dinp (N, C) and dweight (C) += the gradients of out given dout (N, C).</summary>
    public static void Backward(Span<float> dinp, Span<float> dweight, ReadOnlySpan<float> dout, ReadOnlySpan<float> inp,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> rstd, int N, int C)
    {
        for (int n = 0; n < N; n++)
        {
            var x = inp.Slice(n * C, C);
            var dy = dout.Slice(n * C, C);
            var dx = dinp.Slice(n * C, C);
            float s = rstd[n];
            // forward: y[i] = x[i] · s · w[i], s = (mean(x²) + eps)^-1/2, so ds/dx[i] = -s³ x[i] / C.
            // dw[i] += dy[i] · x[i] · s;  dx[i] += s · (dy[i] w[i] - x̂[i] · mean(dy · w · x̂)), x̂ = x · s
            float dot = 0;
            for (int i = 0; i < C; i++) dot += dy[i] * weight[i] * x[i];
            float k = dot * s * s / C;
            for (int i = 0; i < C; i++)
            {
                dweight[i] += dy[i] * x[i] * s;
                dx[i] += s * (dy[i] * weight[i] - x[i] * k);
            }
        }
    }
}
