// Prompt-processing attention for a block of query rows: several consecutive tokens × the G query
// heads that share one key/value head. Each run of PositionTile cached keys (and later values) is
// widened from F16 (or copied from F32) into a small tile once and then used by every row of the
// block, so the conversion is paid once per block rather than once per token, and the block's rows
// form a small matrix product against the tile (Q-block (R, D) x K-tile (D, 16)).
// Same operations in the same order per element as the per-token kernels (AttentionKernels.Scores,
// WeightedSum and their F16 forms), so a score computed here in a vector lane equals the per-token
// vector lane bit for bit; only positions the per-token path leaves to its Vector256 or scalar tail
// (the last n mod 16) differ, by the rounding of a fused versus unfused multiply-add.
// Causal mask: row r belongs to token r / rowsPerToken and sees positions [0, n0 + r / rowsPerToken);
// softmax as ggml_soft_max_ext (max subtracted, scale applied to the scores beforehand); masked
// probabilities are zero, which leaves the weighted sums unchanged.
// A block of a few rows (a decode token's heads: FusedRows) skips the tile for F16 caches: each key or value
// vector is widened in registers and used at once, by the same multiply-adds in the same order, so the results
// are the same to the bit; a layer whose F16 holds no infinity or NaN (KvCache.AllFinite) widens with the
// four-instruction conversion that is exact for finite values.
// Not for Q8_0 caches: those keep the per-token kernels (their integer dot does not tile this way).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeLM.Quantization;

namespace EdgeLM.Kernels;

public static unsafe partial class AttentionKernels
{
    /// <summary>Cached positions widened together into a key or value tile.</summary>
    public const int PositionTile = 16;

    /// <summary>A key tile reads PositionTile halves from each of D transposed key rows, keyStride apart: D
    /// interleaved streams, more than this machine's hardware prefetcher follows, so each row's data this many
    /// halves (256 bytes, eight tiles) ahead is asked for as the tile is loaded. Llama-3.2-1B shape, 2,048
    /// cached positions, two threads, alternated pairs: decode +9-10% against no prefetch at 128 bytes ahead,
    /// +21-27% in two pairs at 256 bytes, and 256 against 128 bytes a tie.</summary>
    const int KeyPrefetch = 128;

    /// <summary>Query rows processed together against one key tile (the q and score buffers are padded to it).</summary>
    public const int RowTile = 4;

    /// <summary>scores[r, p] = scale · Σ_d q[r, d] · k[d, p] for r in [0, R), p in [0, n); keys transposed (D rows
    /// keyStride elements apart), F16 when <paramref name="halfKeys"/>, else F32. q holds R rounded up to
    /// <see cref="RowTile"/> rows (the padding rows readable); score rows are scoreStride apart, scoreStride ≥ n
    /// rounded up to <see cref="PositionTile"/> (the columns past n are scratch). keyTile: D·PositionTile floats.</summary>
    [SkipLocalsInit]
    public static void BlockScores(float* q, int R, int D, void* keysT, bool halfKeys, long keyStride, int n, float scale,
        float* scores, long scoreStride, float* keyTile, bool allowSimd = true) =>
        BlockScores(q, R, D, keysT, halfKeys, keyStride, n, scale, scores, scoreStride, keyTile, allowSimd, fuse: true, finite: false);

    /// <summary>BlockScores; fuse false keeps every tile on the widened-tile path (for tests: the two give equal scores);
    /// finite: the caller knows no F16 key is an infinity or NaN (KvCache.AllFinite), so the fused path may widen with
    /// QuantMath.FiniteHalfToFloat.</summary>
    internal static void BlockScores(float* q, int R, int D, void* keysT, bool halfKeys, long keyStride, int n, float scale,
        float* scores, long scoreStride, float* keyTile, bool allowSimd, bool fuse, bool finite)
    {
        bool fused = fuse && halfKeys && R <= FusedRows && allowSimd && Vector512.IsHardwareAccelerated;
        for (int p0 = 0; p0 < n; p0 += PositionTile)
        {
            int m = Math.Min(PositionTile, n - p0);
            if (fused && m == PositionTile)
            {
                if (finite) ScoreRows512(q, R, D, new HalfKeys<FiniteHalves>((ushort*)keysT + p0, keyStride), scale, scores + p0, scoreStride);
                else ScoreRows512(q, R, D, new HalfKeys<AnyHalves>((ushort*)keysT + p0, keyStride), scale, scores + p0, scoreStride);
                continue;
            }
            LoadKeyTile(keysT, halfKeys, keyStride, p0, m, D, keyTile, allowSimd);
            if (allowSimd && Vector512.IsHardwareAccelerated)
                ScoreRows512(q, R, D, new TileKeys(keyTile), scale, scores + p0, scoreStride);
            else if (allowSimd && Vector256.IsHardwareAccelerated)
            {
                ScoreTile256(q, R, D, keyTile, scale, scores + p0, scoreStride);
                ScoreTile256(q, R, D, keyTile + 8, scale, scores + p0 + 8, scoreStride);
            }
            else
            {
                for (int r = 0; r < R; r++)
                    for (int j = 0; j < m; j++)
                    {
                        float* qr = q + r * D;
                        float acc = 0;
                        for (int d = 0; d < D; d++) acc += qr[d] * keyTile[d * PositionTile + j];
                        scores[r * scoreStride + p0 + j] = scale * acc;
                    }
            }
        }
    }

    /// <summary>tile[d, j] = k[d, p0 + j] as F32 for j &lt; m, 0 for m ≤ j &lt; PositionTile. A short last tile
    /// (a decode token's last n mod 16 positions) is still loaded whole when the key rows reach that far (they
    /// are keyStride long), its positions past n, unwritten cache, masked to zero after the widening.</summary>
    static void LoadKeyTile(void* keysT, bool half, long keyStride, int p0, int m, int D, float* tile, bool simd)
    {
        bool whole = p0 + PositionTile <= keyStride;
        var keep512 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(m)).AsSingle();
        var keep256 = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(m)).AsSingle();
        var keep256Hi = Vector256.LessThan(Vector256<int>.Indices + Vector256.Create(8), Vector256.Create(m)).AsSingle();
        for (int d = 0; d < D; d++)
        {
            float* dst = tile + d * PositionTile;
            if (half)
            {
                ushort* src = (ushort*)keysT + d * keyStride + p0;
                if (Sse.IsSupported) Sse.Prefetch0(src + KeyPrefetch); // never faults, even past the cache's end
                if (whole && simd && Vector512.IsHardwareAccelerated)
                {
                    (QuantMath.HalfToFloat(Vector512.WidenLower(Vector256.Load(src).ToVector512Unsafe())) & keep512).Store(dst);
                    continue;
                }
                if (whole && simd && Vector256.IsHardwareAccelerated)
                {
                    (QuantMath.HalfToFloat(Vector256.WidenLower(Vector128.Load(src).ToVector256Unsafe())) & keep256).Store(dst);
                    (QuantMath.HalfToFloat(Vector256.WidenLower(Vector128.Load(src + 8).ToVector256Unsafe())) & keep256Hi).Store(dst + 8);
                    continue;
                }
                for (int j = 0; j < m; j++) dst[j] = QuantMath.HalfToFloat(src[j]);
            }
            else
            {
                new ReadOnlySpan<float>((float*)keysT + d * keyStride + p0, m).CopyTo(new Span<float>(dst, m));
            }
            for (int j = m; j < PositionTile; j++) dst[j] = 0;
        }
    }

    /// <summary>A block of at most this many query rows (a decode token's G heads: Llama's 4, Qwen2.5's 7) widens each
    /// whole F16 key tile in registers, once per four rows, and multiplies straight from there (HalfKeys,
    /// AccumulateHalf): storing the widened tile and reading it back cost more than widening it twice. Larger
    /// blocks (prompts) widen each tile once into memory for all their row tiles. The same multiply-adds in the
    /// same order either way, so the scores and sums are equal to the bit. One thread, microseconds per layer
    /// (Llama-3.2-1B shape / Qwen2.5-0.5B) at 80, 140 and 500 cached positions: 38 / 63 / 378 -> 21 / 31 / 135 and
    /// 12 / 16 / 62 -> 8 / 11 / 35 with the finite-only widening.</summary>
    internal const int FusedRows = 2 * RowTile;

    /// <summary>scores[r, 0..15] = scale · Σ_d q[r, d] · key d (sixteen positions), four rows at a time; the key vectors
    /// from a widened tile or straight from the F16 cache (TK, compiled for each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void ScoreRows512<TK>(float* q, int R, int D, TK keys, float scale, float* scores, long stride) where TK : struct, IKeyVectors
    {
        for (int r = 0; r < R; r += RowTile)
        {
            float* q0 = q + r * D;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int d = 0; d < D; d++)
            {
                var k = keys.Key(d, first: r == 0);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Create(q0[d]), k, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Create(q0[D + d]), k, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Create(q0[2 * D + d]), k, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Create(q0[3 * D + d]), k, a3);
            }
            (a0 * scale).Store(scores + r * stride);
            if (r + 1 < R) (a1 * scale).Store(scores + (r + 1) * stride);
            if (r + 2 < R) (a2 * scale).Store(scores + (r + 2) * stride);
            if (r + 3 < R) (a3 * scale).Store(scores + (r + 3) * stride);
        }
    }

    /// <summary>Where ScoreRows512 takes key vector d (sixteen positions) from.</summary>
    interface IKeyVectors
    {
        /// <summary>first: the first pass over the keys (the one that prefetches, where a source does).</summary>
        Vector512<float> Key(int d, bool first);
    }

    /// <summary>A widened key tile (LoadKeyTile's): row d at tile + d · PositionTile.</summary>
    readonly struct TileKeys(float* tile) : IKeyVectors
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Key(int d, bool first) => Vector512.Load(tile + d * PositionTile);
    }

    /// <summary>Sixteen positions of the transposed F16 cache (keys: the tile's first position in key row 0), key row d at
    /// keys + d · stride, widened by TW as LoadKeyTile widens it.</summary>
    readonly struct HalfKeys<TW>(ushort* keys, long stride) : IKeyVectors where TW : IHalfWidening
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Key(int d, bool first)
        {
            ushort* src = keys + d * stride;
            if (first) Sse.Prefetch0(src + KeyPrefetch); // as LoadKeyTile: D interleaved streams
            return TW.Widen(src);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void ScoreTile256(float* q, int R, int D, float* keyTile, float scale, float* scores, long stride)
    {
        for (int r = 0; r < R; r += RowTile)
        {
            float* q0 = q + r * D;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int d = 0; d < D; d++)
            {
                var k = Vector256.Load(keyTile + d * PositionTile);
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[d]), k, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[D + d]), k, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[2 * D + d]), k, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[3 * D + d]), k, a3);
            }
            (a0 * scale).Store(scores + r * stride);
            if (r + 1 < R) (a1 * scale).Store(scores + (r + 1) * stride);
            if (r + 2 < R) (a2 * scale).Store(scores + (r + 2) * stride);
            if (r + 3 < R) (a3 * scale).Store(scores + (r + 3) * stride);
        }
    }

    /// <summary>Causal softmax of a block's score rows (rows `stride` apart, n columns): row r sees positions
    /// [0, n0 + r / rowsPerToken), soft-maxed; its columns from there to n are set to 0.</summary>
    public static void CausalSoftmax(float* scores, int R, int rowsPerToken, int n0, long stride, int n)
    {
        for (int r = 0; r < R; r++)
        {
            float* row = scores + r * stride;
            int seen = Math.Min(n, n0 + r / rowsPerToken);
            Activations.Softmax(new Span<float>(row, seen));
            new Span<float>(row + seen, n - seen).Clear();
        }
    }

    /// <summary>out[r] = Σ_{p &lt; n} probs[r, p] · v[p] for r in [0, R), overwriting out (R, D); value rows `stride`
    /// elements apart, F16 when <paramref name="halfValues"/> (then probs are rounded to F16 in place first, as
    /// WeightedSumF16 does), else F32. Probability rows are probStride apart. valueTile: PositionTile·D floats.</summary>
    [SkipLocalsInit]
    public static void BlockWeightedSum(float* probs, int R, long probStride, int D, void* values, bool halfValues, long stride,
        int n, float* output, float* valueTile, bool allowSimd = true) =>
        BlockWeightedSum(probs, R, probStride, D, values, halfValues, stride, n, output, valueTile, allowSimd, fuse: true, finite: false);

    /// <summary>BlockWeightedSum; fuse false keeps the widened-tile path (for tests: the two give equal sums); finite as
    /// for BlockScores.</summary>
    internal static void BlockWeightedSum(float* probs, int R, long probStride, int D, void* values, bool halfValues, long stride,
        int n, float* output, float* valueTile, bool allowSimd, bool fuse, bool finite)
    {
        if (halfValues)
            for (int r = 0; r < R; r++) RoundToHalf(probs + r * probStride, n, allowSimd);
        if (fuse && halfValues && R <= FusedRows && D % 16 == 0 && allowSimd && Vector512.IsHardwareAccelerated)
        {
            if (finite) FusedSums<FiniteHalves>(probs, R, probStride, D, (ushort*)values, stride, n, output);
            else FusedSums<AnyHalves>(probs, R, probStride, D, (ushort*)values, stride, n, output);
            return;
        }
        new Span<float>(output, R * D).Clear();
        for (int p0 = 0; p0 < n; p0 += PositionTile)
        {
            int m = Math.Min(PositionTile, n - p0);
            for (int j = 0; j < m; j++)
            {
                if (halfValues) HalfRow((ushort*)values + (p0 + j) * stride, valueTile + j * D, D, allowSimd);
                else new ReadOnlySpan<float>((float*)values + (p0 + j) * stride, D).CopyTo(new Span<float>(valueTile + j * D, D));
            }
            for (int r = 0; r < R; r++)
                AccumulateTile(output + r * D, valueTile, probs + r * probStride + p0, m, D, allowSimd);
        }
    }

    /// <summary>The fused weighted sums: AccumulateHalf per four rows and per 64 (then 16) columns.</summary>
    static void FusedSums<TW>(float* probs, int R, long probStride, int D, ushort* values, long stride, int n, float* output)
        where TW : IHalfWidening
    {
        for (int r = 0; r < R; r += RowTile)
        {
            int i = 0;
            for (; i + 64 <= D; i += 64)
                AccumulateHalf<TW>(output + r * D + i, D, Math.Min(RowTile, R - r), values + i, stride, probs + r * probStride, probStride, n, 4);
            for (; i < D; i += 16)
                AccumulateHalf<TW>(output + r * D + i, D, Math.Min(RowTile, R - r), values + i, stride, probs + r * probStride, probStride, n, 1);
        }
    }

    /// <summary>out[r, i] = Σ_{j &lt; n} a[r, j] · v[j, i] for rows r &lt; rows (≤ 4; out rows D apart, probability rows
    /// probStride apart) and i over vectors (4 or 1) of sixteen columns, v F16 rows `stride` halves apart: each value
    /// vector widened once for all rows and the sums kept in registers over every position, in position order from
    /// zero, as the tile path's Clear and AccumulateTile calls do.</summary>
    static void AccumulateHalf<TW>(float* output, int D, int rows, ushort* v, long stride, float* a, long probStride, int n, int vectors)
        where TW : IHalfWidening
    {
        // Missing rows repeat row 0 (computed, not stored), so the loop has no branch per row.
        float* a1 = rows > 1 ? a + probStride : a, a2 = rows > 2 ? a + 2 * probStride : a, a3 = rows > 3 ? a + 3 * probStride : a;
        if (vectors == 4)
        {
            Vector512<float> y00 = default, y01 = default, y02 = default, y03 = default, y10 = default, y11 = default, y12 = default, y13 = default;
            Vector512<float> y20 = default, y21 = default, y22 = default, y23 = default, y30 = default, y31 = default, y32 = default, y33 = default;
            for (int j = 0; j < n; j++, v += stride)
            {
                var x0 = TW.Widen(v);
                var x1 = TW.Widen(v + 16);
                var x2 = TW.Widen(v + 32);
                var x3 = TW.Widen(v + 48);
                var p = Vector512.Create(a[j]);
                (y00, y01, y02, y03) = (Vector512.FusedMultiplyAdd(x0, p, y00), Vector512.FusedMultiplyAdd(x1, p, y01), Vector512.FusedMultiplyAdd(x2, p, y02), Vector512.FusedMultiplyAdd(x3, p, y03));
                p = Vector512.Create(a1[j]);
                (y10, y11, y12, y13) = (Vector512.FusedMultiplyAdd(x0, p, y10), Vector512.FusedMultiplyAdd(x1, p, y11), Vector512.FusedMultiplyAdd(x2, p, y12), Vector512.FusedMultiplyAdd(x3, p, y13));
                p = Vector512.Create(a2[j]);
                (y20, y21, y22, y23) = (Vector512.FusedMultiplyAdd(x0, p, y20), Vector512.FusedMultiplyAdd(x1, p, y21), Vector512.FusedMultiplyAdd(x2, p, y22), Vector512.FusedMultiplyAdd(x3, p, y23));
                p = Vector512.Create(a3[j]);
                (y30, y31, y32, y33) = (Vector512.FusedMultiplyAdd(x0, p, y30), Vector512.FusedMultiplyAdd(x1, p, y31), Vector512.FusedMultiplyAdd(x2, p, y32), Vector512.FusedMultiplyAdd(x3, p, y33));
            }
            y00.Store(output); y01.Store(output + 16); y02.Store(output + 32); y03.Store(output + 48);
            if (rows > 1) { y10.Store(output + D); y11.Store(output + D + 16); y12.Store(output + D + 32); y13.Store(output + D + 48); }
            if (rows > 2) { y20.Store(output + 2 * D); y21.Store(output + 2 * D + 16); y22.Store(output + 2 * D + 32); y23.Store(output + 2 * D + 48); }
            if (rows > 3) { y30.Store(output + 3 * D); y31.Store(output + 3 * D + 16); y32.Store(output + 3 * D + 32); y33.Store(output + 3 * D + 48); }
            return;
        }
        Vector512<float> z0 = default, z1 = default, z2 = default, z3 = default;
        for (int j = 0; j < n; j++, v += stride)
        {
            var x = TW.Widen(v);
            z0 = Vector512.FusedMultiplyAdd(x, Vector512.Create(a[j]), z0);
            z1 = Vector512.FusedMultiplyAdd(x, Vector512.Create(a1[j]), z1);
            z2 = Vector512.FusedMultiplyAdd(x, Vector512.Create(a2[j]), z2);
            z3 = Vector512.FusedMultiplyAdd(x, Vector512.Create(a3[j]), z3);
        }
        z0.Store(output);
        if (rows > 1) z1.Store(output + D);
        if (rows > 2) z2.Store(output + 2 * D);
        if (rows > 3) z3.Store(output + 3 * D);
    }

    /// <summary>How a fused kernel widens sixteen F16 values (a type argument, so each kernel is compiled for one).</summary>
    interface IHalfWidening
    {
        static abstract Vector512<float> Widen(ushort* h);
    }

    /// <summary>Any F16 values, infinities and NaNs included: as HalfRow and LoadKeyTile widen them.</summary>
    readonly struct AnyHalves : IHalfWidening
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Widen(ushort* h) => QuantMath.HalfToFloat(Vector512.WidenLower(Vector256.Load(h).ToVector512Unsafe()));
    }

    /// <summary>F16 values known finite: the same floats in four instructions instead of nine.</summary>
    readonly struct FiniteHalves : IHalfWidening
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Widen(ushort* h) => QuantMath.FiniteHalfToFloat(h);
    }

    /// <summary>y[i] += Σ_{j &lt; m} a[j] · tile[j, i], position by position in order (as m calls of Axpy), with
    /// y held in registers across the tile: four vectors of a row at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AccumulateTile(float* y, float* tile, float* a, int m, int D, bool simd)
    {
        if (simd && Vector512.IsHardwareAccelerated && D % 16 == 0)
        {
            int i = 0;
            for (; i + 64 <= D; i += 64)
            {
                var (y0, y1, y2, y3) = (Vector512.Load(y + i), Vector512.Load(y + i + 16), Vector512.Load(y + i + 32), Vector512.Load(y + i + 48));
                for (int j = 0; j < m; j++)
                {
                    float* x = tile + j * D + i;
                    var va = Vector512.Create(a[j]);
                    y0 = Vector512.FusedMultiplyAdd(Vector512.Load(x), va, y0);
                    y1 = Vector512.FusedMultiplyAdd(Vector512.Load(x + 16), va, y1);
                    y2 = Vector512.FusedMultiplyAdd(Vector512.Load(x + 32), va, y2);
                    y3 = Vector512.FusedMultiplyAdd(Vector512.Load(x + 48), va, y3);
                }
                y0.Store(y + i); y1.Store(y + i + 16); y2.Store(y + i + 32); y3.Store(y + i + 48);
            }
            for (; i < D; i += 16)
            {
                var acc = Vector512.Load(y + i);
                for (int j = 0; j < m; j++) acc = Vector512.FusedMultiplyAdd(Vector512.Load(tile + j * D + i), Vector512.Create(a[j]), acc);
                acc.Store(y + i);
            }
            return;
        }
        if (simd && Vector256.IsHardwareAccelerated && D % 8 == 0)
        {
            int i = 0;
            for (; i + 32 <= D; i += 32)
            {
                var (y0, y1, y2, y3) = (Vector256.Load(y + i), Vector256.Load(y + i + 8), Vector256.Load(y + i + 16), Vector256.Load(y + i + 24));
                for (int j = 0; j < m; j++)
                {
                    float* x = tile + j * D + i;
                    var va = Vector256.Create(a[j]);
                    y0 = Vector256.FusedMultiplyAdd(Vector256.Load(x), va, y0);
                    y1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 8), va, y1);
                    y2 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 16), va, y2);
                    y3 = Vector256.FusedMultiplyAdd(Vector256.Load(x + 24), va, y3);
                }
                y0.Store(y + i); y1.Store(y + i + 8); y2.Store(y + i + 16); y3.Store(y + i + 24);
            }
            for (; i < D; i += 8)
            {
                var acc = Vector256.Load(y + i);
                for (int j = 0; j < m; j++) acc = Vector256.FusedMultiplyAdd(Vector256.Load(tile + j * D + i), Vector256.Create(a[j]), acc);
                acc.Store(y + i);
            }
            return;
        }
        for (int j = 0; j < m; j++)
        {
            float aj = a[j];
            float* x = tile + j * D;
            for (int i = 0; i < D; i++) y[i] += aj * x[i];
        }
    }
}
