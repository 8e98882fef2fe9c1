// Rotary position embedding as ggml's rope (ggml_rope_cache_init + rotate_pairs), without YaRN:
// theta_i = freq_scale * pos * base^(-2i/n_dims) / freq_factor_i, computed by repeated multiplication in float
// exactly as ggml does so positions far into the context agree with llama.cpp.
// Normal mode rotates adjacent pairs (x[2i], x[2i+1]) (llama, llama2.c); NeoX mode rotates
// (x[i], x[i + n_dims/2]) (qwen2, qwen3, and llama checkpoints in Hugging Face order).
namespace EdgeLM.Kernels;

public static class Rope
{
    /// <summary>Fills cos/sin tables (n_dims/2 each) for one position.</summary>
    public static void Angles(Span<float> cos, Span<float> sin, int pos, int nDims, float freqBase, ReadOnlySpan<float> freqFactors,
        float freqScale = 1f)
    {
        float thetaScale = MathF.Pow(freqBase, -2.0f / nDims);
        float theta = pos;
        for (int i = 0; i < nDims / 2; i++)
        {
            float ff = freqFactors.IsEmpty ? 1.0f : freqFactors[i];
            // ggml's rope_yarn without extrapolation mixing: theta_interp = freq_scale * theta_extrap.
            float t = freqScale * (theta / ff);
            cos[i] = MathF.Cos(t);
            sin[i] = MathF.Sin(t);
            theta *= thetaScale;
        }
    }

    /// <summary>Rotates every head of x (numHeads × headDim) in place with the tables of one position.</summary>
    public static void Apply(Span<float> x, int numHeads, int headDim, int nDims, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, bool neox)
    {
        int half = nDims / 2;
        for (int h = 0; h < numHeads; h++)
        {
            var v = x.Slice(h * headDim, headDim);
            if (neox)
            {
                for (int i = 0; i < half; i++)
                {
                    float x0 = v[i], x1 = v[i + half];
                    v[i] = x0 * cos[i] - x1 * sin[i];
                    v[i + half] = x0 * sin[i] + x1 * cos[i];
                }
            }
            else
            {
                for (int i = 0; i < half; i++)
                {
                    float x0 = v[2 * i], x1 = v[2 * i + 1];
                    v[2 * i] = x0 * cos[i] - x1 * sin[i];
                    v[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
                }
            }
        }
    }
}
