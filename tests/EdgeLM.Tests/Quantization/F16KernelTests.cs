// The F16 decode kernels (F16Rows) against the scalar reference F16.VecDot and System.Half: the
// shift-and-mask widening for all 65536 halves, the lane order of the widened activation, and rows
// holding NaN, infinities, subnormals, ±0 and ±65504 at every tier, in the vector body and the tail.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class F16KernelTests
{
    const float Two112 = 5.192297e33f;

    public static TheoryData<int> Levels()
    {
        var d = new TheoryData<int>();
        foreach (var l in Simd.Available().Append(SimdLevel.Vector128).Distinct())
            if (l != SimdLevel.Scalar) d.Add((int)l);
        return d;
    }

    [Fact]
    public void Field_times_2_112_is_the_exact_widening_of_every_finite_half()
    {
        for (int h = 0; h < 65536; h++)
        {
            if ((h & 0x7fff) >= 0x7c00) continue; // inf / NaN take the reference path
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)h);
            float actual = F16Rows.Field((ushort)h) * Two112;
            Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual),
                $"0x{h:x4}: System.Half {expected:R}, field · 2^112 {actual:R}");
        }
    }

    /// <summary>Every half, specials included, widened in vector steps: lane j of a step's low half holds
    /// half (j / 4) · 8 + j % 4 of the step, the high half the next four of each 128-bit lane.</summary>
    [Theory]
    [MemberData(nameof(Levels))]
    public void Widened_activation_is_value_times_2_112_in_unpack_order(int level)
    {
        const int n = 65536 + 5; // every half, then a tail
        var a = new ushort[n];
        for (int i = 0; i < n; i++) a[i] = (ushort)(i * 40503); // odd multiplier: a permutation of 0..65535
        var dst = new float[n];
        fixed (ushort* pa = a)
        fixed (float* pd = dst) F16Rows.WidenActivation(pa, pd, n, (SimdLevel)level);
        int w = level / 32, step = 2 * w, body = n / step * step;
        for (int i = 0; i < n; i++)
        {
            int src = i;
            if (i < body)
            {
                int j = i % step, lane = j < w ? j : j - w;
                src = i - j + lane / 4 * 8 + lane % 4 + (j < w ? 0 : 4);
            }
            float expected = (float)BitConverter.UInt16BitsToHalf(a[src]) * Two112;
            Assert.True(float.IsNaN(expected) ? float.IsNaN(dst[i]) : expected == dst[i],
                $"level {level} element {i} (half 0x{a[src]:x4} from {src}): expected {expected:R}, got {dst[i]:R}");
        }
    }

    public static TheoryData<int, ushort, int> Specials()
    {
        var d = new TheoryData<int, ushort, int>();
        ushort[] values = [0x7c00, 0xfc00, 0x7e00, 0xfd01, 0x0001, 0x83ff, 0x0000, 0x8000, 0x7bff, 0xfbff];
        foreach (int level in Levels())
            foreach (ushort v in values)
                foreach (int at in new[] { 3, 40, 129 }) // a vector step, the second 64, the tail (n = 131)
                    d.Add(level, v, at);
        return d;
    }

    /// <summary>One special weight in a Gaussian row: NaN and inf must come out as the reference's
    /// (inf, -inf or NaN), subnormals, zeros and ±65504 within the reassociation tolerance.</summary>
    [Theory]
    [MemberData(nameof(Specials))]
    public void Special_weights_give_the_reference_result(int level, ushort special, int at)
    {
        const int n = 131;
        var w = Halves(RandomData.Gaussian(n, 5));
        var x = Halves(RandomData.Gaussian(n, 6));
        w[at] = special;
        AssertMatchesReference(w, x, (SimdLevel)level, $"weight 0x{special:x4} at {at}");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void Special_activations_and_subnormal_rows_give_the_reference_result(int level)
    {
        foreach (int n in new[] { 64, 100, 257 })
        {
            var w = Halves(RandomData.Gaussian(n, n));
            var x = Halves(RandomData.Gaussian(n, n + 1));
            AssertMatchesReference(w, x, (SimdLevel)level, "plain");
            var tiny = Halves(RandomData.Gaussian(n, n + 2, 3e-6f)); // mostly binary16 subnormals
            AssertMatchesReference(tiny, x, (SimdLevel)level, "subnormal weights");
            AssertMatchesReference(w, tiny, (SimdLevel)level, "subnormal activations");
            var big = (ushort[])x.Clone();
            big[n / 2] = 0x7bff; // 65504: its 2^112 multiple must stay finite
            AssertMatchesReference(w, big, (SimdLevel)level, "65504 activation");
            var inf = (ushort[])x.Clone();
            inf[n - 1] = 0xfc00;
            AssertMatchesReference(w, inf, (SimdLevel)level, "-inf activation");
            var zeroW = (ushort[])w.Clone();
            zeroW[n - 1] = 0;
            AssertMatchesReference(zeroW, inf, (SimdLevel)level, "0 · inf");
        }
    }

    /// <summary>VecDotRows widens the activation once and must give each row the per-row dot's bits.</summary>
    [Theory]
    [MemberData(nameof(Levels))]
    public void Rows_equal_single_dots(int level)
    {
        const int n = 200, rows = 5;
        var w = Halves(RandomData.Gaussian(n * rows, 8));
        w[2 * n + 7] = 0x7c00; // one row takes the reference path
        var x = Halves(RandomData.Gaussian(n, 9));
        var y = new float[rows];
        fixed (ushort* pw = w)
        fixed (ushort* px = x)
        fixed (float* py = y)
        {
            F16Rows.Rows((byte*)pw, 2 * n, rows, px, py, n, (SimdLevel)level);
            var dot = QuantDots.Resolve(GgmlType.F16, (SimdLevel)level);
            for (int r = 0; r < rows; r++)
            {
                float single = dot((byte*)(pw + r * n), (byte*)px, n);
                Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(y[r]), $"row {r}: {single:R} vs {y[r]:R}");
            }
        }
    }

    internal static ushort[] Halves(float[] x)
    {
        var h = new ushort[x.Length];
        for (int i = 0; i < x.Length; i++) h[i] = BitConverter.HalfToUInt16Bits((Half)x[i]);
        return h;
    }

    static void AssertMatchesReference(ushort[] w, ushort[] x, SimdLevel level, string label)
    {
        int n = w.Length;
        float expected, actual;
        fixed (ushort* pw = w)
        fixed (ushort* px = x)
        {
            expected = F16.VecDot(pw, px, n);
            actual = QuantDots.Resolve(GgmlType.F16, level)((byte*)pw, (byte*)px, n);
        }
        if (!float.IsFinite(expected))
        {
            Assert.True(float.IsNaN(expected) ? float.IsNaN(actual) : expected == actual, $"{level} n={n} {label}: reference {expected}, got {actual}");
            return;
        }
        double bound = DotCheck.ReassociationTolerance * SumAbs(w, x) + 1e-30;
        Assert.True(Math.Abs(expected - actual) <= bound, $"{level} n={n} {label}: reference {expected:R}, got {actual:R}, bound {bound}");
    }

    internal static double SumAbs(ushort[] w, ushort[] x)
    {
        double s = 0;
        for (int i = 0; i < w.Length; i++)
            s += Math.Abs((double)(float)BitConverter.UInt16BitsToHalf(w[i]) * (float)BitConverter.UInt16BitsToHalf(x[i]));
        return s;
    }
}
