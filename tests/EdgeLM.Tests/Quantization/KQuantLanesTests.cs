// The rows-in-lanes micro-batch product for the K-quants (KQuantLanes, what QuantKernels.MatMulRows runs
// for Q4_K and Q6_K at 512 bits from four activations on) over several sixteen-row tiles: row ranges that
// start inside a tile and end inside another, activation counts around the four-activation tile, on
// quantizer output and on raw blocks at the extremes (all quant bits set, Q4_K scales and mins 63, Q6_K
// scales -128 and 127, the largest fp16 d and dmin, activations at +127 and -128). Every output must
// equal KQuantLanes.ReferenceDot bit for bit, and that scalar order must agree with the scalar per-pair
// dot (Q4_K.VecDot / Q6_K.VecDot) within float reassociation: DotCheck.ReassociationTolerance of the sum
// of the magnitudes both orders add.
using System.Runtime.Intrinsics.X86;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class KQuantLanesTests
{
    const int Rows = 53, Acts = 11;

    /// <summary>Where a block's float products are subnormal (d = 0x0001 with dy = 1e-30), each of the few
    /// roundings per block may be off by a subnormal step on either side, whatever the magnitudes.</summary>
    const double SubnormalSlackPerBlock = 8 * 1.401298464324817e-45;

    // Finite fp16 super-scales: 1, the largest, its negative, the smallest subnormal, zero, two ordinary.
    static readonly ushort[] Halves = [0x3c00, 0x7bff, 0xfbff, 0x0001, 0x0000, 0x1e66, 0xa4d2];

    public static TheoryData<GgmlType, bool> Cases() => new()
    {
        { GgmlType.Q4_K, false }, { GgmlType.Q4_K, true }, { GgmlType.Q6_K, false }, { GgmlType.Q6_K, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Outputs_equal_the_reference_order_across_tiles(GgmlType type, bool raw)
    {
        if (!Avx512BW.IsSupported) return; // the kernel needs it; other CPUs take other kernels (KQuantKernelTests)
        foreach (int n in new[] { 256, 768, 2048 })
        {
            var (wq, xq, rb, ab) = raw ? MakeRaw(type, n, seed: n) : MakeQuantized(type, n, seed: n);
            foreach (int T in new[] { 4, 5, 7, 8, Acts })
                foreach (var (r0, r1) in new[] { (0, Rows), (3, 19), (15, 17), (16, 48), (31, 32) })
                {
                    var y = new float[T * Rows];
                    Array.Fill(y, float.NaN);
                    fixed (byte* pw = wq) QuantKernels.MatMulRows(type, pw, rb, r0, r1, xq.AsSpan(0, T * ab), ab, T, y, Rows, n, SimdLevel.Vector512);
                    fixed (byte* pw = wq)
                    fixed (byte* px = xq)
                        for (int t = 0; t < T; t++)
                            for (int r = 0; r < Rows; r++)
                            {
                                float got = y[t * Rows + r];
                                string at = $"{type} raw={raw} n={n} T={T} [{r0},{r1}) row {r} act {t}";
                                if (r < r0 || r >= r1)
                                {
                                    Assert.True(float.IsNaN(got), $"{at} was written");
                                    continue;
                                }
                                float want = KQuantLanes.ReferenceDot(type, pw + r * rb, px + t * ab, n);
                                Assert.True(BitConverter.SingleToInt32Bits(got) == BitConverter.SingleToInt32Bits(want),
                                    $"{at}: tile {got:R} (0x{BitConverter.SingleToInt32Bits(got):x8}), reference order {want:R} (0x{BitConverter.SingleToInt32Bits(want):x8})");
                            }
                }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_reference_order_agrees_with_the_scalar_dot(GgmlType type, bool raw)
    {
        const int n = 1024;
        var (wq, xq, rb, ab) = raw ? MakeRaw(type, n, seed: 7) : MakeQuantized(type, n, seed: 7);
        var scalar = QuantDots.Resolve(type, SimdLevel.Scalar);
        int differ = 0;
        fixed (byte* pw = wq)
        fixed (byte* px = xq)
            for (int r = 0; r < Rows; r++)
                for (int t = 0; t < Acts; t++)
                {
                    byte* w = pw + r * rb, x = px + t * ab;
                    float got = KQuantLanes.ReferenceDot(type, w, x, n), want = scalar(w, x, n);
                    double bound = DotCheck.ReassociationTolerance * Magnitude(type, w, x, n) + SubnormalSlackPerBlock * (n / 256);
                    Assert.True(Math.Abs((double)got - want) <= bound, $"{type} raw={raw} row {r} act {t}: reference order {got:R}, scalar dot {want:R}, bound {bound:E2}");
                    if (got != want) differ++;
                }
        // Q6_K's single product rounds once less than the scalar dot's two, Q4_K's two fused products
        // differ from its mul-sub: some outputs must differ, or this test compares a function with itself.
        Assert.True(differ > 0, $"{type} raw={raw}: the reference order equals the scalar dot everywhere");
    }

    /// <summary>Sum over blocks of |fl(d dy)| sum|sc q y| (+ |fl(dmin dy)| sum|m y| for Q4_K): a bound on
    /// every partial sum either order forms, in double.</summary>
    static double Magnitude(GgmlType type, byte* w, byte* a, int n)
    {
        double total = 0;
        for (int i = 0; i < n / 256; i++)
        {
            var y = (BlockQ8_K*)a + i;
            if (type == GgmlType.Q4_K)
            {
                var x = (BlockQ4_K*)w + i;
                double q = 0, m = 0;
                for (int e = 0; e < 256; e++)
                {
                    KQuantSearch.GetScaleMinK4(e / 32, x->Scales, out int sc, out int mn);
                    int nib = (x->Qs[32 * (e / 64) + e % 32] >> (4 * (e / 32 % 2))) & 0xF;
                    q += Math.Abs((double)sc * nib * y->Qs[e]);
                    m += Math.Abs((double)mn * y->Qs[e]);
                }
                total += Math.Abs(QuantMath.HalfToFloat(x->D) * y->D) * q + Math.Abs(QuantMath.HalfToFloat(x->Dmin) * y->D) * m;
            }
            else
            {
                var x = (BlockQ6_K*)w + i;
                double q = 0;
                for (int e = 0; e < 256; e++) q += Math.Abs((double)x->Scales[e / 16] * Q6_K.Quant(x, e) * y->Qs[e]);
                total += Math.Abs(QuantMath.HalfToFloat(x->D) * y->D) * q;
            }
        }
        return total;
    }

    static (byte[] Wq, byte[] Xq, int Rb, int Ab) MakeQuantized(GgmlType type, int n, int seed)
    {
        int rb = (int)GgmlTypes.RowBytes(type, n), ab = (int)GgmlTypes.RowBytes(GgmlType.Q8_K, n);
        float[] w = RandomData.Gaussian(Rows * n, 100 + seed), x = RandomData.Gaussian(Acts * n, 200 + seed);
        var wq = new byte[Rows * rb];
        var xq = new byte[Acts * ab];
        for (int r = 0; r < Rows; r++) QuantKernels.QuantizeReference(type, w.AsSpan(r * n, n), wq.AsSpan(r * rb, rb));
        for (int t = 0; t < Acts; t++) QuantKernels.Quantize(GgmlType.Q8_K, x.AsSpan(t * n, n), xq.AsSpan(t * ab, ab));
        return (wq, xq, rb, ab);
    }

    /// <summary>Raw blocks at the extremes (KQuantTestData.MakeRaw): the largest d and dmin positive, random
    /// activation quants from -127 (-128 only in the all -128 activation, which a quantizer never writes).</summary>
    static (byte[] Wq, byte[] Xq, int Rb, int Ab) MakeRaw(GgmlType type, int n, int seed)
    {
        var (wq, xq) = KQuantTestData.MakeRaw(type, n, seed, Rows, Acts, Halves, largestDmin: 0x7bff, lowestQuant: -127);
        return (wq, xq, (int)GgmlTypes.RowBytes(type, n), (int)GgmlTypes.RowBytes(GgmlType.Q8_K, n));
    }
}
