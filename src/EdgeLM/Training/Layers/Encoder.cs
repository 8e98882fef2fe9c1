// Training layer: token embedding lookup (llm.c's encoder_forward / encoder_backward, without the
// positional table: positions enter through RoPE). Not the inference path, which dequantizes rows.
// Legend: N = B·T token positions, C = n_embd, V = vocabulary.
namespace EdgeLM.Training.Layers;

public static class Encoder
{
    /// <summary>out (N, C) = wte[tokens] with tokens (N), wte (V, C).</summary>
    public static void Forward(Span<float> output, ReadOnlySpan<int> tokens, ReadOnlySpan<float> wte, int N, int C)
    {
        for (int n = 0; n < N; n++)
            wte.Slice(tokens[n] * C, C).CopyTo(output.Slice(n * C, C));
    }

    /// <summary>dwte (V, C) += scatter of dout (N, C) by tokens (N).</summary>
    public static void Backward(Span<float> dwte, ReadOnlySpan<float> dout, ReadOnlySpan<int> tokens, int N, int C)
    {
        for (int n = 0; n < N; n++)
        {
            // forward: out[n] = wte[tokens[n]]
            var d = dwte.Slice(tokens[n] * C, C);
            System.Numerics.Tensors.TensorPrimitives.Add(d, dout.Slice(n * C, C), d);
        }
    }
}
