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
        float* scores, long scoreStride, float* keyTile, bool allowSimd = true)
    {
        for (int p0 = 0; p0 < n; p0 += PositionTile)
        {
            int m = Math.Min(PositionTile, n - p0);
            LoadKeyTile(keysT, halfKeys, keyStride, p0, m, D, keyTile, allowSimd);
            if (allowSimd && Vector512.IsHardwareAccelerated)
                ScoreTile512(q, R, D, keyTile, scale, scores + p0, scoreStride);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void ScoreTile512(float* q, int R, int D, float* keyTile, float scale, float* scores, long stride)
    {
        for (int r = 0; r < R; r += RowTile)
        {
            float* q0 = q + r * D;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int d = 0; d < D; d++)
            {
                var k = Vector512.Load(keyTile + d * PositionTile);
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
        int n, float* output, float* valueTile, bool allowSimd = true)
    {
        if (halfValues)
            for (int r = 0; r < R; r++) RoundToHalf(probs + r * probStride, n, allowSimd);
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
