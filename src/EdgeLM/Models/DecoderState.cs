// Everything a forward pass writes: activations for a micro-batch of up to MaxBatch tokens, the
// quantized-activation scratch, the logits and the KV cache. Allocated once per session (pinned, so
// kernels take pointers); a forward pass allocates nothing.
using EdgeLM.Kernels;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Models;

public sealed unsafe class DecoderState : IDisposable
{
    /// <summary>Buffers for micro-batches of up to maxBatch tokens and a KV cache of contextLength positions, keys and
    /// values in F16 unless given (F32, F16 or Q8_0).</summary>
    public DecoderState(ModelConfig c, DecoderWeights w, int contextLength, int maxBatch, WorkerPool pool,
        GgmlType keyType = GgmlType.F16, GgmlType valueType = GgmlType.F16)
    {
        Config = c;
        ContextLength = contextLength;
        MaxBatch = maxBatch;
        Pool = pool;
        int B = maxBatch;
        X = Alloc(B * c.EmbeddingLength);
        Xb = Alloc(B * Math.Max(c.EmbeddingLength, c.QueryDim));
        Q = Alloc(B * c.QueryDim);
        K = Alloc(B * c.KvDim);
        V = Alloc(B * c.KvDim);
        AttnOut = Alloc(B * c.QueryDim);
        Gate = Alloc(B * c.FeedForwardLength);
        Up = Alloc(B * c.FeedForwardLength);
        Logits = Alloc(c.VocabSize);
        RopeCos = Alloc(B * c.RopeDimensions / 2);
        RopeSin = Alloc(B * c.RopeDimensions / 2);
        int widest = Math.Max(Math.Max(c.EmbeddingLength, c.QueryDim), c.FeedForwardLength);
        long qBytes = 0;
        foreach (var m in AllMatrices(w))
            qBytes = Math.Max(qBytes, GgmlTypes.RowBytes(QuantKernels.VecDotType(m.Type), widest) + 64);
        ActivationRowBytes = qBytes;
        Quantized = GC.AllocateArray<byte>(checked((int)(qBytes * B)), pinned: true);
        Cache = new KvCache(c.BlockCount, contextLength, c.KvDim, c.HeadDim, keyType, valueType);
    }

    public ModelConfig Config { get; }
    public int ContextLength { get; }
    public int MaxBatch { get; }
    public WorkerPool Pool { get; }
    public KvCache Cache { get; }

    /// <summary>Residual stream (B, C).</summary>
    public float[] X { get; }
    /// <summary>Normalised input to a block, later attention output rows (B, max(C, Hq·D)).</summary>
    public float[] Xb { get; }
    /// <summary>Queries (B, Hq·D), keys and values (B, Hkv·D) of the current micro-batch.</summary>
    public float[] Q { get; }
    public float[] K { get; }
    public float[] V { get; }
    /// <summary>Attention output before the output projection (B, Hq·D).</summary>
    public float[] AttnOut { get; }
    /// <summary>SwiGLU gate and up projections (B, FF).</summary>
    public float[] Gate { get; }
    public float[] Up { get; }
    /// <summary>Logits of the last position (V).</summary>
    public float[] Logits { get; }
    public float[] RopeCos { get; }
    public float[] RopeSin { get; }
    /// <summary>Activation rows quantized to a weight type's vec_dot type: (B, ActivationRowBytes).</summary>
    public byte[] Quantized { get; }
    public long ActivationRowBytes { get; }

    /// <summary>Tokens already in the KV cache.</summary>
    public int Position { get; set; }

    static float[] Alloc(int n) => GC.AllocateArray<float>(Math.Max(n, 1), pinned: true);

    static IEnumerable<WeightMatrix> AllMatrices(DecoderWeights w)
    {
        yield return w.Output;
        foreach (var l in w.Layers)
        {
            yield return l.AttnQ; yield return l.AttnK; yield return l.AttnV; yield return l.AttnOutput;
            yield return l.FfnGate; yield return l.FfnUp; yield return l.FfnDown;
        }
    }

    public void Dispose() => Cache.Dispose();
}
