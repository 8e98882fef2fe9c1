// Causal grouped-query attention over the KV cache for a micro-batch, split across the pool by
// (token, key/value head): each item handles the Hq / Hkv query heads that share one KV head, so
// every cached key and value row is read once per group rather than once per query head.
// Scores are scaled by 1/sqrt(D) and soft-maxed over positions 0..pos (ggml_soft_max_ext with the
// causal mask).
using EdgeLM.Kernels;

namespace EdgeLM.Models;

public sealed unsafe class Attention : IParallelJob
{
    [ThreadStatic] static float[]? t_scores;

    float* _q;
    float* _out;
    float* _keys;
    float* _values;
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
                AttentionKernels.Scores(_q + qOffset, G, D, _keys + (long)kvh * D * _contextLength, _contextLength, n, scale, sc);
                for (int g = 0; g < G; g++)
                    Activations.Softmax(new Span<float>(sc + g * n, n));
                AttentionKernels.WeightedSum(sc, G, D, _values + kvh * D, _kvDim, n, _out + qOffset);
            }
        }
    }
}
