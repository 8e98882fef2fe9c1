// The tiled row kernels (several weight rows against one or several activation rows per pass, used by
// VecDotRows and VecDotRowsMulti) against the scalar reference dot and against the single-row SIMD dot:
// every row count around the tile (including remainders), activation counts 1..9 and 64, and row
// lengths whose block counts leave every tail. The tiles keep the single dot's integer sums and float
// order per (row, activation), so they must equal it bit for bit; the scalar reference bounds both.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class MultiRowKernelTests
{

    public static TheoryData<GgmlType> Types() => new() { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K };

    [Theory]
    [MemberData(nameof(Types))]
    public void Tiles_equal_the_single_row_dot_and_the_scalar_reference(GgmlType type)
    {
        int bs = GgmlTypes.Info(type).BlockSize;
        int[] lengths = bs == 32 ? [32, 64, 96, 128, 160, 224, 2048 + 96] : [256, 768, 1280];
        foreach (int n in lengths)
        {
            const int rows = 11, maxActs = 64;
            var vt = QuantKernels.VecDotType(type);
            int rb = (int)GgmlTypes.RowBytes(type, n), ab = (int)GgmlTypes.RowBytes(vt, n);
            float[] w = RandomData.Gaussian(rows * n, 31 + n), x = RandomData.Gaussian(maxActs * n, 77 + n);
            var wq = new byte[rows * rb];
            var xq = new byte[maxActs * ab];
            for (int r = 0; r < rows; r++) QuantKernels.QuantizeReference(type, w.AsSpan(r * n, n), wq.AsSpan(r * rb, rb));
            for (int t = 0; t < maxActs; t++) QuantKernels.Quantize(vt, x.AsSpan(t * n, n), xq.AsSpan(t * ab, ab));
            var single = new float[rows, maxActs];
            var scalar = new float[rows, maxActs];
            var simd = QuantDots.Resolve(type, Simd.Best);
            var reference = QuantDots.Resolve(type, SimdLevel.Scalar);
            fixed (byte* pw = wq)
            fixed (byte* px = xq)
                for (int r = 0; r < rows; r++)
                    for (int t = 0; t < maxActs; t++)
                    {
                        single[r, t] = simd(pw + r * rb, px + t * ab, n);
                        scalar[r, t] = reference(pw + r * rb, px + t * ab, n);
                    }
            foreach (int T in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 64 })
                for (int r0 = 0; r0 < 2; r0++)
                    for (int r1 = r0; r1 <= rows; r1 += r1 < 9 ? 1 : 2)
                        Check(type, wq, rb, xq, ab, n, T, r0, r1, single, scalar, w, x);
        }
    }

    static void Check(GgmlType type, byte[] wq, int rb, byte[] xq, int ab, int n, int T, int r0, int r1,
        float[,] single, float[,] scalar, float[] w, float[] x)
    {
        int m = r1 - r0;
        var y = new float[T * m];
        var y1 = new float[m];
        fixed (byte* pw = wq)
        {
            QuantKernels.VecDotRowsMulti(type, pw, rb, r0, r1, xq, ab, T, y, n);
            QuantKernels.VecDotRows(type, pw, rb, r0, r1, xq.AsSpan(0, ab), y1, n);
        }
        for (int r = r0; r < r1; r++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(y1[r - r0]) == BitConverter.SingleToInt32Bits(single[r, 0]),
                $"{type} n={n} rows [{r0},{r1}) VecDotRows row {r}: {y1[r - r0]:R}, single dot {single[r, 0]:R}");
            for (int t = 0; t < T; t++)
            {
                float v = y[t * m + r - r0];
                Assert.True(BitConverter.SingleToInt32Bits(v) == BitConverter.SingleToInt32Bits(single[r, t]),
                    $"{type} n={n} T={T} rows [{r0},{r1}) row {r} act {t}: tiled {v:R}, single dot {single[r, t]:R}");
                double bound = DotCheck.ReassociationTolerance * SumAbs(w.AsSpan(r * n, n), x.AsSpan(t * n, n)) + 1e-30;
                Assert.True(Math.Abs(v - scalar[r, t]) <= bound, $"{type} n={n} row {r} act {t}: tiled {v:R}, scalar {scalar[r, t]:R}");
            }
        }
    }

    static double SumAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += Math.Abs((double)a[i] * b[i]);
        return s;
    }
}
