// Causal grouped-query attention over the KV cache for a micro-batch, split across the pool by
// (token, head). Query head h reads key/value head h / (Hq / Hkv). Scores are scaled by
// 1/sqrt(D) and soft-maxed over positions 0..pos (ggml_soft_max_ext with the causal mask).
using System.Numerics.Tensors;
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
            // An item (token, head) costs ~2·n·D multiply-adds over n cached positions; keep chunks at ≥ ~32K.
            int grain = Math.Max(1, 16384 / Math.Max(1, (pos0 + T) * c.HeadDim));
            s.Pool.For(T * c.HeadCount, grain, this);
        }
    }

    public void Execute(int start, int end)
    {
        int D = _headDim, group = _heads / _kvHeads;
        float scale = 1.0f / MathF.Sqrt(D);
        for (int item = start; item < end; item++)
        {
            int t = item / _heads, h = item % _heads;
            int n = _pos0 + t + 1;
            var scores = t_scores is { } buf && buf.Length >= n ? buf : (t_scores = new float[Math.Max(n, _contextLength)]);
            var q = new ReadOnlySpan<float>(_q + ((long)t * _heads + h) * D, D);
            int kvOffset = h / group * D;
            for (int p = 0; p < n; p++)
                scores[p] = TensorPrimitives.Dot(q, new ReadOnlySpan<float>(_keys + (long)p * _kvDim + kvOffset, D)) * scale;
            var sc = scores.AsSpan(0, n);
            Activations.Softmax(sc);
            var o = new Span<float>(_out + ((long)t * _heads + h) * D, D);
            o.Clear();
            for (int p = 0; p < n; p++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(_values + (long)p * _kvDim + kvOffset, D), sc[p], o, o);
        }
    }
}
