// Training layer: rotary position embedding with the engine's tables (Kernels.Rope.Angles), in both
// orderings: normal rotates adjacent pairs (llama in GGUF order), NeoX rotates (x[i], x[i + n/2])
// (qwen2, qwen3). Every sequence of the batch starts at position 0. The rotation is orthogonal, so
// the backward pass is the rotation by the opposite angle.
// Legend: B = batch, T = time, H = heads, D = head size, R = rotated dimensions (≤ D).
namespace EdgeLM.Training.Layers;

public static class Rope
{
    /// <summary>Fills cos and sin (T, R/2) for positions 0..T-1 exactly as the engine does.</summary>
    public static void Tables(Span<float> cos, Span<float> sin, int T, int R, float freqBase, float freqScale = 1f)
    {
        int half = R / 2;
        for (int t = 0; t < T; t++)
            Kernels.Rope.Angles(cos.Slice(t * half, half), sin.Slice(t * half, half), t, R, freqBase, ReadOnlySpan<float>.Empty, freqScale);
    }

    /// <summary>out (B, T, H, D) = inp rotated by position; dimensions R..D-1 pass through.</summary>
    public static void Forward(Span<float> output, ReadOnlySpan<float> inp, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin,
        int B, int T, int H, int D, int R, bool neox) =>
        Rotate(output, inp, cos, sin, B, T, H, D, R, neox, sign: 1f, accumulate: false);

    /// <summary>dinp (B, T, H, D) += dout rotated back (the transpose of the forward rotation).</summary>
    public static void Backward(Span<float> dinp, ReadOnlySpan<float> dout, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin,
        int B, int T, int H, int D, int R, bool neox) =>
        // forward: y0 = x0 c - x1 s, y1 = x0 s + x1 c  ⇒  dx0 = dy0 c + dy1 s, dx1 = -dy0 s + dy1 c
        Rotate(dinp, dout, cos, sin, B, T, H, D, R, neox, sign: -1f, accumulate: true);

    static void Rotate(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin,
        int B, int T, int H, int D, int R, bool neox, float sign, bool accumulate)
    {
        int half = R / 2;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
            {
                var c = cos.Slice(t * half, half);
                var s = sin.Slice(t * half, half);
                for (int h = 0; h < H; h++)
                {
                    int o = ((b * T + t) * H + h) * D;
                    for (int i = 0; i < half; i++)
                    {
                        int i0 = neox ? o + i : o + 2 * i, i1 = neox ? o + i + half : o + 2 * i + 1;
                        float x0 = x[i0], x1 = x[i1], si = sign * s[i];
                        float y0 = x0 * c[i] - x1 * si, y1 = x0 * si + x1 * c[i];
                        if (accumulate) { y[i0] += y0; y[i1] += y1; }
                        else { y[i0] = y0; y[i1] = y1; }
                    }
                    for (int i = o + R; i < o + D; i++)
                        y[i] = accumulate ? y[i] + x[i] : x[i];
                }
            }
    }
}
