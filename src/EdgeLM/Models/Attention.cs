// Causal grouped-query attention over the KV cache for a micro-batch, split across the pool.
// F32 / F16 caches: an item is (block of consecutive tokens, key/value head), the Hq / Hkv query heads
// that share one KV head, so every cached key and value row is read and widened once for the whole
// block (AttentionKernels.BlockScores); blocks are handed out last-first, since under the causal mask
// later tokens see more keys, and the pool's dynamic chunks then end on the cheapest items. A decode
// token is a block of one: the tile kernels keep the scores and sums in registers and take the
// last n mod 16 positions in vectors too (1.1-3.5x the per-token kernels for Qwen2.5's and Llama's
// heads, from 17 to 2,000 cached positions). Q8_0 caches: an item is (token, key/value head).
// Scores are scaled by 1/sqrt(D) and soft-maxed over positions 0..pos (ggml_soft_max_ext with the
// causal mask). The cache's key and value types pick the kernels (F32, F16 or Q8_0).
using EdgeLM.Kernels;
using EdgeLM.Tensors;

namespace EdgeLM.Models;

public sealed unsafe class Attention : IParallelJob
{
    /// <summary>Query rows (tokens × heads per KV head) a prompt block aims at: enough to amortize widening a
    /// key tile over several row tiles, few enough that its scores stay in the core's cache.</summary>
    const int BlockRows = 32;
    const int MaxBlockTokens = 16;

    [ThreadStatic] static float[]? t_scores;
    [ThreadStatic] static float[]? t_block;

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
    int _T;
    int _blockTokens;
    bool _blocked;
    bool _finite;

    /// <summary>F32 / F16 caches in token blocks (the default); false keeps the per-token kernels, for comparison.</summary>
    public bool Blocks { get; init; } = true;

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
            _finite = s.Cache.AllFinite(layer);
            _pos0 = pos0;
            _heads = c.HeadCount;
            _kvHeads = c.HeadCountKv;
            _headDim = c.HeadDim;
            _kvDim = c.KvDim;
            // Per-thread score buffers are sized for the whole context once, so a growing context never allocates.
            _contextLength = s.ContextLength;
            // An item (token block, KV head) costs ~4·tokens·G·n·D multiply-adds over n cached positions; keep chunks at ≥ ~32K.
            int group = c.HeadCount / c.HeadCountKv;
            _T = T;
            _blocked = Blocks && _keyType != GgmlType.Q8_0 && _valueType != GgmlType.Q8_0;
            _blockTokens = _blocked ? Math.Min(T, BlockTokens(group)) : 1;
            int items = (T + _blockTokens - 1) / _blockTokens * c.HeadCountKv;
            int grain = Math.Max(1, 8192 / Math.Max(1, (pos0 + T) * c.HeadDim * group * _blockTokens));
            s.Pool.For(items, grain, this);
        }
    }

    /// <summary>Tokens per prompt block for G query heads per KV head.</summary>
    public static int BlockTokens(int G) => Math.Clamp(BlockRows / G, 1, MaxBlockTokens);

    public void Execute(int start, int end)
    {
        if (_blocked)
        {
            ExecuteBlocks(start, end);
            return;
        }
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

    void ExecuteBlocks(int start, int end)
    {
        int D = _headDim, G = _heads / _kvHeads, Bt = _blockTokens;
        int rowsPad = (Bt * G + AttentionKernels.RowTile - 1) / AttentionKernels.RowTile * AttentionKernels.RowTile;
        int stride = (_contextLength + AttentionKernels.PositionTile - 1) / AttentionKernels.PositionTile * AttentionKernels.PositionTile;
        // One per-thread buffer, sized for the whole context once: q rows (rowsPad, D), scores (rowsPad, stride),
        // the key or value tile (PositionTile, D) and the output rows (rowsPad, D).
        int need = rowsPad * D * 2 + rowsPad * stride + AttentionKernels.PositionTile * D;
        var buffer = t_block is { } b && b.Length >= need ? b : (t_block = new float[need]);
        int blocks = (_T + Bt - 1) / Bt;
        float scale = 1.0f / MathF.Sqrt(D);
        bool halfKeys = _keyType == GgmlType.F16, halfValues = _valueType == GgmlType.F16;
        fixed (float* buf = buffer)
        {
            float* qb = buf, ob = qb + rowsPad * D, tile = ob + rowsPad * D, sc = tile + AttentionKernels.PositionTile * D;
            for (int item = start; item < end; item++)
            {
                int kvh = item % _kvHeads, t0 = (blocks - 1 - item / _kvHeads) * Bt;
                int tokens = Math.Min(Bt, _T - t0), R = tokens * G, n = _pos0 + t0 + tokens;
                PackQueries(qb, t0, tokens, kvh, G, D, rowsPad, halfKeys);
                void* keys = halfKeys ? (ushort*)_keys + (long)kvh * D * _contextLength : (float*)_keys + (long)kvh * D * _contextLength;
                AttentionKernels.BlockScores(qb, R, D, keys, halfKeys, _contextLength, n, scale, sc, stride, tile, allowSimd: true, fuse: true, _finite);
                AttentionKernels.CausalSoftmax(sc, R, G, _pos0 + t0 + 1, stride, n);
                void* values = halfValues ? (ushort*)_values + kvh * D : (float*)_values + kvh * D;
                AttentionKernels.BlockWeightedSum(sc, R, stride, D, values, halfValues, _kvDim, n, ob, tile, allowSimd: true, fuse: true, _finite);
                for (int i = 0; i < tokens; i++)
                    new ReadOnlySpan<float>(ob + i * G * D, G * D).CopyTo(new Span<float>(_out + ((long)(t0 + i) * _heads + kvh * G) * D, G * D));
            }
        }
    }

    /// <summary>Gathers the block's query rows (token-major, then head) into qb (rowsPad, D), rounded to F16 for
    /// F16 keys as the per-token kernel does, with the padding rows zero.</summary>
    void PackQueries(float* qb, int t0, int tokens, int kvh, int G, int D, int rowsPad, bool half)
    {
        for (int i = 0; i < tokens; i++)
            new ReadOnlySpan<float>(_q + ((long)(t0 + i) * _heads + kvh * G) * D, G * D).CopyTo(new Span<float>(qb + i * G * D, G * D));
        if (half) AttentionKernels.RoundToHalf(qb, tokens * G * D);
        new Span<float>(qb + tokens * G * D, (rowsPad - tokens * G) * D).Clear();
    }
}
