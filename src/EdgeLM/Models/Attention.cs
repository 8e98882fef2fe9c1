// Causal grouped-query attention over the KV cache for a micro-batch, split across the pool by
// (token, key/value head): each item handles the Hq / Hkv query heads that share one KV head, so
// every cached key and value row is read once per group rather than once per query head.
// Scores are scaled by 1/sqrt(D) and soft-maxed over positions 0..pos (ggml_soft_max_ext with the
// causal mask). The cache's key and value types pick the kernels (F32, F16 or Q8_0).
using EdgeLM.Kernels;
using EdgeLM.Tensors;

namespace EdgeLM.Models;

public sealed unsafe class Attention : IParallelJob
{
    [ThreadStatic] static float[]? t_scores;

    float* _q;
    float* _out;
    byte* _keys;
    byte* _values;
    GgmlType _keyType;
    GgmlType _valueType;
    long _keyRowBytes;
    long _valueRowBytes;
    int _pos0;
    int _heads;
    int _kvHeads;
    int _headDim;
    int _kvDim;
    int _contextLength;

    /// <summary>out (T, Hq·D) = softmax(q kᵀ / sqrt(D)) v, for tokens at positions pos0 .. pos0+T-1.</summary>
    public void Run(DecoderState s, int layer, int pos0, int T)
    {
        var c = s.Config;
        fixed (float* q = s.Q)
        fixed (float* o = s.AttnOut)
        {
            _q = q;
            _out = o;
            _keys = s.Cache.Keys(layer);
            _values = s.Cache.Values(layer);
            _keyType = s.Cache.KeyType;
            _valueType = s.Cache.ValueType;
            _keyRowBytes = s.Cache.RowBytes(_keyType);
            _valueRowBytes = s.Cache.RowBytes(_valueType);
            _pos0 = pos0;
            _heads = c.HeadCount;
            _kvHeads = c.HeadCountKv;
            _headDim = c.HeadDim;
            _kvDim = c.KvDim;
            // Per-thread score buffers are sized for the whole context once, so a growing context never allocates.
            _contextLength = s.ContextLength;
            // An item (token, KV head) costs ~4·G·n·D multiply-adds over n cached positions; keep chunks at ≥ ~32K.
            int group = c.HeadCount / c.HeadCountKv;
            int grain = Math.Max(1, 8192 / Math.Max(1, (pos0 + T) * c.HeadDim * group));
            s.Pool.For(T * c.HeadCountKv, grain, this);
        }
    }

    public void Execute(int start, int end)
    {
        int D = _headDim, G = _heads / _kvHeads;
        float scale = 1.0f / MathF.Sqrt(D);
        var scores = t_scores is { } buf && buf.Length >= G * _contextLength ? buf : (t_scores = new float[G * _contextLength]);
        fixed (float* sc = scores)
        {
            for (int item = start; item < end; item++)
            {
                int t = item / _kvHeads, kvh = item % _kvHeads;
                int n = _pos0 + t + 1;
                long qOffset = ((long)t * _heads + kvh * G) * D;
                Scores(_q + qOffset, G, D, kvh, n, scale, sc);
                for (int g = 0; g < G; g++)
                    Activations.Softmax(new Span<float>(sc + g * n, n));
                WeightedSum(sc, G, D, kvh, n, _out + qOffset);
            }
        }
    }

    void Scores(float* q, int G, int D, int kvh, int n, float scale, float* scores)
    {
        switch (_keyType)
        {
            case GgmlType.F32:
                AttentionKernels.Scores(q, G, D, (float*)_keys + (long)kvh * D * _contextLength, _contextLength, n, scale, scores);
                break;
            case GgmlType.F16:
                AttentionKernels.ScoresF16(q, G, D, (ushort*)_keys + (long)kvh * D * _contextLength, _contextLength, n, scale, scores);
                break;
            default:
                AttentionKernels.ScoresQ8_0(q, G, D, _keys + kvh * GgmlTypes.RowBytes(GgmlType.Q8_0, D), _keyRowBytes, n, scale, scores);
                break;
        }
    }

    void WeightedSum(float* probs, int G, int D, int kvh, int n, float* output)
    {
        switch (_valueType)
        {
            case GgmlType.F32:
                AttentionKernels.WeightedSum(probs, G, D, (float*)_values + kvh * D, _kvDim, n, output);
                break;
            case GgmlType.F16:
                AttentionKernels.WeightedSumF16(probs, G, D, (ushort*)_values + kvh * D, _kvDim, n, output);
                break;
            default:
                AttentionKernels.WeightedSumQ8_0(probs, G, D, _values + kvh * GgmlTypes.RowBytes(GgmlType.Q8_0, D), _valueRowBytes, n, output);
                break;
        }
    }
}
