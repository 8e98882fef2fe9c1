// Blocked matrix multiply of 32-element-block weights (Q8_0, Q5_0, Q4_0) against Q8_0 activations for
// CPUs without AVX-512 (AVX2 + FMA, 16 vector registers): tiles of 2 weight rows x 3 activation rows.
// Each weight block is unpacked to signed bytes once per tile, each activation block loaded once per
// two rows; every (row, activation) keeps Block32Simd.Dot256's one 8-lane accumulator, its integer
// lane sums (IntDot.Dot), its scalar scale product dx * dy and its final Vector256.Sum, so outputs are
// bit-identical to the single-row dot at this level. The fp16 scales are widened once per call
// (activations) and once per row pair (weights) instead of once per block and pair.
// Not the AVX-512 kernel (Block32GemmLanes) and not the decode path.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class Block32Gemm256
{
    const int QK = 32, YB = 34, R = 2, C = 3; // block size, sizeof(BlockQ8_0), tile rows, tile activations

    // Widened scales: activations (na, nb), then the current row pair's (R, nb).
    [ThreadStatic] static float[]? t_scales;

    /// <summary>y[t * ys + r] = dot(W[r], x_t) for r in [0, rows), t in [0, na) (Block32Multi.Rows's signature).</summary>
    public static void Rows<T>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n) where T : IBlock32
    {
        int nb = n / QK, need = nb * (na + R);
        var buf = t_scales is { } s && s.Length >= need ? s : (t_scales = new float[need]);
        fixed (float* sc = buf)
        {
            float* sy = sc, sx = sc + nb * na;
            for (int t = 0; t < na; t++) Widen(a + t * ab, YB, nb, sy + t * nb);
            int r = 0;
            for (; r + R <= rows; r += R)
            {
                byte* wr = w + r * rb;
                Widen(wr, T.BlockBytes, nb, sx);
                Widen(wr + rb, T.BlockBytes, nb, sx + nb);
                int t = 0;
                for (; t + C <= na; t += C) Tile<T>(wr, rb, a + t * ab, ab, sx, sy + t * nb, nb, y + (long)t * ys + r, ys);
                for (; t < na; t++)
                {
                    y[(long)t * ys + r] = Block32Simd.Dot256<T>(wr, a + t * ab, n);
                    y[(long)t * ys + r + 1] = Block32Simd.Dot256<T>(wr + rb, a + t * ab, n);
                }
            }
            for (; r < rows; r++)
                for (int t = 0; t < na; t++) y[(long)t * ys + r] = Block32Simd.Dot256<T>(w + r * rb, a + t * ab, n);
        }
    }

    /// <summary>The fp16 scales of nb blocks (stride b) as floats, exactly as QuantMath.HalfToFloat.</summary>
    static void Widen(byte* p, int b, int nb, float* dst)
    {
        for (int i = 0; i < nb; i++, p += b) dst[i] = QuantMath.HalfToFloat(*(ushort*)p);
    }

    /// <summary>Two rows against three activations; c{r}{t} is Dot256's acc for that pair.</summary>
    static void Tile<T>(byte* w, long rb, byte* a, long ab, float* sx, float* sy, int nb, float* y, int ys) where T : IBlock32
    {
        int b = T.BlockBytes;
        Vector256<float> c00 = default, c10 = default, c01 = default, c11 = default, c02 = default, c12 = default;
        byte* w0 = w, w1 = w + rb;
        sbyte* q = (sbyte*)a + 2;
        for (int ib = 0; ib < nb; ib++, w0 += b, w1 += b, q += YB)
        {
            var x0 = T.Load256(w0);
            var x1 = T.Load256(w1);
            float dx0 = sx[ib], dx1 = sx[nb + ib];
            Act(x0, x1, Vector256.Load(q), dx0, dx1, sy[ib], ref c00, ref c10);
            Act(x0, x1, Vector256.Load(q + ab), dx0, dx1, sy[nb + ib], ref c01, ref c11);
            Act(x0, x1, Vector256.Load(q + 2 * ab), dx0, dx1, sy[2 * nb + ib], ref c02, ref c12);
        }
        y[0] = Vector256.Sum(c00);
        y[1] = Vector256.Sum(c10);
        y[ys] = Vector256.Sum(c01);
        y[ys + 1] = Vector256.Sum(c11);
        y[2 * ys] = Vector256.Sum(c02);
        y[2 * ys + 1] = Vector256.Sum(c12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Act(Vector256<sbyte> x0, Vector256<sbyte> x1, Vector256<sbyte> y, float dx0, float dx1, float dy,
        ref Vector256<float> c0, ref Vector256<float> c1)
    {
        c0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(IntDot.Dot(x0, y)), Vector256.Create(dx0 * dy), c0);
        c1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(IntDot.Dot(x1, y)), Vector256.Create(dx1 * dy), c1);
    }
}
