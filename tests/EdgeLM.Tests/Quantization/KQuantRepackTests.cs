// The decode product over Q4_K and Q6_K weights repacked at load into sixteen-row groups (Q4_KRepack, Q6_KRepack,
// at 512 and 256 bits): over 53 rows (three full groups and a padded one), row ranges that start and end inside a
// group, lengths of 1, 2, 8 and 19 super-blocks (19: DecodeRepack's column panels of 8 + 8 + 3, each continuing
// the dots of the one before), on quantizer output and on raw blocks at the extremes (all quant bits set, Q4_K
// scales and mins 63, Q6_K scales -128 and 127, the largest fp16 d and dmin, negative and subnormal ones;
// activations of +127, -128 and a tiny d). Every output must equal KQuantLanes.ReferenceDot bit for bit (the same
// integer sums and FMA order), outputs outside the range must stay untouched, and a matrix with an infinite or NaN
// d or dmin is not repacked.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class KQuantRepackTests
{
    const int Rows = RepackChecks.Rows, Acts = 4;

    // Finite fp16 super-scales: 1, the largest, its negative, the smallest subnormal, zero, two ordinary.
    static readonly ushort[] Halves = [0x3c00, 0x7bff, 0xfbff, 0x0001, 0x0000, 0x1e66, 0xa4d2];

    public static TheoryData<GgmlType, int> Cases()
    {
        var data = new TheoryData<GgmlType, int>();
        foreach (var type in new[] { GgmlType.Q4_K, GgmlType.Q6_K })
            foreach (int n in new[] { 256, 512, 2048, 4864 })
                data.Add(type, n);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Outputs_equal_the_reference_order(GgmlType type, int n)
    {
        if (!Q4_KRepack.Supported) return; // the layouts are only built on AVX-512 BW or AVX2 + FMA CPUs
        Assert.True(DecodeRepack.CanRepack(type, n));
        var (wq, xq) = MakeQuantized(type, n, seed: n);
        Check(type, wq, xq, n, "quantized");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Extreme_raw_blocks_equal_the_reference_order(GgmlType type, int n)
    {
        if (!Q4_KRepack.Supported) return;
        var (wq, xq) = MakeRaw(type, n, seed: 3 * n);
        Check(type, wq, xq, n, "raw");
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 0)]
    [InlineData(GgmlType.Q4_K, 2)]
    [InlineData(GgmlType.Q6_K, 208)]
    public void A_matrix_with_an_infinite_or_nan_scale_is_not_repacked(GgmlType type, int at)
    {
        if (!Q4_KRepack.Supported) return;
        const int n = 512;
        int rb = (int)GgmlTypes.RowBytes(type, n), size = rb / 2;
        foreach (ushort bad in new ushort[] { 0x7C00, 0xFC00, 0x7E00 }) // +inf, -inf, NaN
        {
            var (wq, _) = MakeQuantized(type, n, seed: 1);
            int o = 37 * rb + size + at; // row 37, super-block 1: Q4_K's d (0) or dmin (2), Q6_K's d (208)
            wq[o] = (byte)bad; wq[o + 1] = (byte)(bad >> 8);
            fixed (byte* pw = wq) Assert.True(DecodeRepack.Create(type, pw, rb, Rows, n) == null, $"{type} 0x{bad:X4} at {at} was repacked");
        }
    }

    static void Check(GgmlType type, byte[] wq, byte[] xq, int n, string what)
    {
        int rb = (int)GgmlTypes.RowBytes(type, n), ab = (int)GgmlTypes.RowBytes(GgmlType.Q8_K, n);
        fixed (byte* pw = wq)
        fixed (byte* px = xq)
        {
            byte* packed = DecodeRepack.Create(type, pw, rb, Rows, n);
            Assert.True(packed != null, $"{type} {what} n={n}: not repacked");
            try
            {
                for (int t = 0; t < Acts; t++)
                {
                    byte* x = px + t * ab;
                    var want = new float[Rows];
                    for (int r = 0; r < Rows; r++) want[r] = KQuantLanes.ReferenceDot(type, pw + r * rb, x, n);
                    RepackChecks.AllRanges(type, packed, n, x, want, $"{type} {what} act {t}");
                }
                RepackChecks.RoundTrip(type, packed, wq, n, $"{type} {what}");
            }
            finally
            {
                DecodeRepack.Free(packed);
            }
        }
    }

    static (byte[] Wq, byte[] Xq) MakeQuantized(GgmlType type, int n, int seed)
    {
        int rb = (int)GgmlTypes.RowBytes(type, n), ab = (int)GgmlTypes.RowBytes(GgmlType.Q8_K, n);
        float[] w = RandomData.Gaussian(Rows * n, 100 + seed), x = RandomData.Gaussian(Acts * n, 200 + seed);
        var wq = new byte[Rows * rb];
        var xq = new byte[Acts * ab];
        for (int r = 0; r < Rows; r++) QuantKernels.QuantizeReference(type, w.AsSpan(r * n, n), wq.AsSpan(r * rb, rb));
        for (int t = 0; t < Acts; t++) QuantKernels.Quantize(GgmlType.Q8_K, x.AsSpan(t * n, n), xq.AsSpan(t * ab, ab));
        return (wq, xq);
    }

    /// <summary>Raw blocks at the extremes (KQuantTestData.MakeRaw): the largest dmin negative, random activation
    /// quants from -128 (the int16 sums' worst case).</summary>
    static (byte[] Wq, byte[] Xq) MakeRaw(GgmlType type, int n, int seed) =>
        KQuantTestData.MakeRaw(type, n, seed, Rows, Acts, Halves, largestDmin: 0xfbff, lowestQuant: -128);
}
