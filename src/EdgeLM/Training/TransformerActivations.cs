// Every activation a training step keeps for the backward pass, in one float array, and their
// gradients in a second of the same layout (llm.c's ActivationTensors). Sized once for a batch of
// B sequences of T tokens; a step allocates nothing.
// Legend: B = batch, T = time, N = B·T, C = n_embd, Hq/Hkv = heads, D = head size, F = FFN width, V = vocab.
namespace EdgeLM.Training;

/// <summary>A slice of the activation (or activation-gradient) array.</summary>
public readonly record struct ActivationBuffer(int Offset, int Length)
{
    public Span<float> Of(float[] storage) => storage.AsSpan(Offset, Length);
}

/// <summary>One block's saved activations. The residual stream after attention (XAttn) and after the
/// FFN (XFfn) hold the projection output plus the incoming residual.</summary>
public sealed record LayerActivations(
    ActivationBuffer Ln1, ActivationBuffer Ln1Rstd,                  // (N, C), (N)
    ActivationBuffer Q, ActivationBuffer K, ActivationBuffer V,                // (N, Hq·D), (N, Hkv·D), (N, Hkv·D), after bias
    ActivationBuffer QNormed, ActivationBuffer QRstd,                // (N, Hq·D), (N·Hq): qwen3 only, else empty
    ActivationBuffer KNormed, ActivationBuffer KRstd,                // (N, Hkv·D), (N·Hkv): qwen3 only, else empty
    ActivationBuffer QRope, ActivationBuffer KRope,                  // (N, Hq·D), (N, Hkv·D)
    ActivationBuffer Att, ActivationBuffer AttY, ActivationBuffer XAttn,       // (B, Hq, T, T), (N, Hq·D), (N, C)
    ActivationBuffer Ln2, ActivationBuffer Ln2Rstd,                  // (N, C), (N)
    ActivationBuffer Gate, ActivationBuffer Up, ActivationBuffer Swi,          // (N, F) each
    ActivationBuffer XFfn);                                // (N, C)

public sealed class TransformerActivations
{
    int _count;

    public TransformerActivations(TransformerConfig config, int B, int T)
    {
        var c = config.Model;
        int N = B * T, C = c.EmbeddingLength, Q = c.QueryDim, KV = c.KvDim, F = c.FeedForwardLength;
        (this.B, this.T) = (B, T);
        Encoded = Add(N * C);
        var layers = new LayerActivations[c.BlockCount];
        bool qk = config.QkNorm;
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = new LayerActivations(
                Add(N * C), Add(N), Add(N * Q), Add(N * KV), Add(N * KV),
                Add(qk ? N * Q : 0), Add(qk ? N * c.HeadCount : 0), Add(qk ? N * KV : 0), Add(qk ? N * c.HeadCountKv : 0),
                Add(N * Q), Add(N * KV),
                Add(B * c.HeadCount * T * T), Add(N * Q), Add(N * C),
                Add(N * C), Add(N),
                Add(N * F), Add(N * F), Add(N * F),
                Add(N * C));
        }
        Layers = layers;
        LnF = Add(N * C);
        LnFRstd = Add(N);
        Logits = Add(N * c.VocabSize);
        Probs = Add(N * c.VocabSize);
        Losses = Add(N);
        int half = c.RopeDimensions / 2;
        RopeCos = new float[T * half];
        RopeSin = new float[T * half];
        EdgeLM.Training.Layers.Rope.Tables(RopeCos, RopeSin, T, c.RopeDimensions, c.RopeFreqBase, c.RopeFreqScale);
        Data = GC.AllocateArray<float>(_count, pinned: true);
        Grad = GC.AllocateArray<float>(_count, pinned: true);
    }

    public int B { get; }
    public int T { get; }
    public float[] Data { get; }
    public float[] Grad { get; }
    /// <summary>RoPE tables for positions 0..T-1, (T, R/2) each.</summary>
    public float[] RopeCos { get; }
    public float[] RopeSin { get; }

    public ActivationBuffer Encoded { get; }                       // (N, C)
    public IReadOnlyList<LayerActivations> Layers { get; }
    public ActivationBuffer LnF { get; }                           // (N, C)
    public ActivationBuffer LnFRstd { get; }                       // (N)
    public ActivationBuffer Logits { get; }                        // (N, V)
    public ActivationBuffer Probs { get; }                         // (N, V)
    public ActivationBuffer Losses { get; }                        // (N)

    ActivationBuffer Add(int n)
    {
        var b = new ActivationBuffer(_count, n);
        _count = checked(_count + n);
        return b;
    }
}
