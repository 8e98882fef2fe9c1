// The rows-in-lanes micro-batch product (Block32GemmLanes, what QuantKernels.MatMulRows runs for Q4_0,
// Q5_0 and Q8_0 at 512 and 256 bits from four activations on) over several 32- and 8-row tiles: row ranges that
// start inside a tile and end inside another, activation counts around the four-activation tile, and
// Q8_0 rows holding -128 (which a quantizer never writes but a file may). Every output must equal
// Block32GemmLanes.ReferenceDot bit for bit, and that scalar order must agree with the scalar
// per-pair dot within float reassociation (DotCheck.ReassociationTolerance of the exact sum of |w x|).
using System.Runtime.Intrinsics.X86;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class GemmLanesTests
{
    const int Rows = 53, Acts = 11;

    public static TheoryData<GgmlType> Types() => new() { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0 };

    [Theory]
    [MemberData(nameof(Types))]
    public void Outputs_equal_the_reference_order_across_tiles(GgmlType type)
    {
        foreach (var level in Levels(type))
            foreach (int n in new[] { 32, 96, 896 })
            {
                var (wq, xq, w, x, rb, ab) = Make(type, n, seed: n);
                if (type == GgmlType.Q8_0) wq[2] = wq[rb + 40] = 0x80; // -128 in row 0 and row 1
                foreach (int T in new[] { 4, 5, 7, 8, Acts })
                    foreach (var (r0, r1) in new[] { (0, Rows), (3, 19), (15, 17), (16, 48), (31, 32) })
                    {
                        var y = new float[T * Rows];
                        Array.Fill(y, float.NaN);
                        fixed (byte* pw = wq) QuantKernels.MatMulRows(type, pw, rb, r0, r1, xq.AsSpan(0, T * ab), ab, T, y, Rows, n, level);
                        fixed (byte* pw = wq)
                        fixed (byte* px = xq)
                            for (int t = 0; t < T; t++)
                                for (int r = 0; r < Rows; r++)
                                {
                                    float got = y[t * Rows + r];
                                    if (r < r0 || r >= r1)
                                    {
                                        Assert.True(float.IsNaN(got), $"{type} {level} n={n} T={T} [{r0},{r1}): row {r} act {t} was written");
                                        continue;
                                    }
                                    float want = Block32GemmLanes.ReferenceDot(type, pw + r * rb, px + t * ab, n);
                                    Assert.True(BitConverter.SingleToInt32Bits(got) == BitConverter.SingleToInt32Bits(want),
                                        $"{type} {level} n={n} T={T} [{r0},{r1}) row {r} act {t}: tile {got:R}, reference order {want:R}");
                                }
                    }
            }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Activations_prepared_once_for_the_product_give_the_same_bits(GgmlType type)
    {
        foreach (var level in Levels(type))
            foreach (int n in new[] { 32, 896 })
            {
                var (wq, xq, _, _, rb, ab) = Make(type, n, seed: 3 * n);
                foreach (int T in new[] { 4, 7, Acts })
                {
                    // Prepared in two ranges of activations, as the pool splits the work, then the row ranges a
                    // product's chunks take.
                    var prepared = new int[Block32GemmLanes.PreparedBytes(T, n) / sizeof(int)];
                    int split = T / 2, perActivation = (int)(Block32GemmLanes.PreparedBytes(1, n) / sizeof(int));
                    fixed (byte* px = xq)
                    fixed (int* pp = prepared)
                    {
                        QuantDots.PrepareGemm(type, px, ab, split, n, pp);
                        QuantDots.PrepareGemm(type, px + split * ab, ab, T - split, n, pp + split * perActivation);
                    }
                    var want = new float[T * Rows];
                    var got = new float[T * Rows];
                    Array.Fill(got, float.NaN);
                    fixed (byte* pw = wq)
                    fixed (int* pp = prepared)
                    {
                        QuantKernels.MatMulRows(type, pw, rb, 0, Rows, xq.AsSpan(0, T * ab), ab, T, want, Rows, n, level);
                        foreach (var (r0, r1) in new[] { (0, 19), (19, 32), (32, Rows) })
                            QuantKernels.MatMulRows(type, pw, rb, r0, r1, xq.AsSpan(0, T * ab), ab, T, got, Rows, n, level, pp);
                    }
                    for (int i = 0; i < want.Length; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(got[i]) == BitConverter.SingleToInt32Bits(want[i]),
                            $"{type} {level} n={n} T={T} output {i}: prepared {got[i]:R}, per call {want[i]:R}");
                }
            }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void The_reference_order_agrees_with_the_scalar_dot(GgmlType type)
    {
        const int n = 896;
        var (wq, xq, w, x, rb, ab) = Make(type, n, seed: 7);
        var scalar = QuantDots.Resolve(type, SimdLevel.Scalar);
        fixed (byte* pw = wq)
        fixed (byte* px = xq)
            for (int r = 0; r < Rows; r++)
                for (int t = 0; t < Acts; t++)
                {
                    float got = Block32GemmLanes.ReferenceDot(type, pw + r * rb, px + t * ab, n), want = scalar(pw + r * rb, px + t * ab, n);
                    double bound = DotCheck.ReassociationTolerance * SumAbs(w.AsSpan(r * n, n), x.AsSpan(t * n, n)) + 1e-30;
                    Assert.True(Math.Abs(got - want) <= bound, $"{type} row {r} act {t}: reference order {got:R}, scalar dot {want:R}");
                }
    }

    /// <summary>The levels whose tile this CPU runs for the type (512 bits: sixteen rows per register; 256:
    /// eight, Q4_0 and Q5_0 only).</summary>
    static IEnumerable<SimdLevel> Levels(GgmlType type)
    {
        if (Avx512BW.IsSupported && Simd.Available().Contains(SimdLevel.Vector512)) yield return SimdLevel.Vector512;
        if (type != GgmlType.Q8_0 && Avx2.IsSupported && Fma.IsSupported && Simd.Available().Contains(SimdLevel.Vector256)) yield return SimdLevel.Vector256;
    }

    static (byte[] Wq, byte[] Xq, float[] W, float[] X, int Rb, int Ab) Make(GgmlType type, int n, int seed)
    {
        int rb = (int)GgmlTypes.RowBytes(type, n), ab = (int)GgmlTypes.RowBytes(GgmlType.Q8_0, n);
        float[] w = RandomData.Gaussian(Rows * n, 100 + seed), x = RandomData.Gaussian(Acts * n, 200 + seed);
        var wq = new byte[Rows * rb];
        var xq = new byte[Acts * ab];
        for (int r = 0; r < Rows; r++) QuantKernels.QuantizeReference(type, w.AsSpan(r * n, n), wq.AsSpan(r * rb, rb));
        for (int t = 0; t < Acts; t++) QuantKernels.Quantize(GgmlType.Q8_0, x.AsSpan(t * n, n), xq.AsSpan(t * ab, ab));
        return (wq, xq, w, x, rb, ab);
    }

    static double SumAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += Math.Abs((double)a[i] * b[i]);
        return s;
    }
}
