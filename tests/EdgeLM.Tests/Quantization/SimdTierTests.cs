// Every SIMD tier against the scalar reference in one process (tiers are passed explicitly), on
// random data over every block count up to and past 257 elements: K-quant dots and the activation
// quantizers bit-exact, the 32-block and float dots within a named float-reassociation tolerance.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class SimdTierTests
{
    // Vector tiers keep per-lane float accumulators and reduce at the end; the scalar path adds block
    // by block: the tolerance for that is DotCheck.ReassociationTolerance.

    public static TheoryData<GgmlType, int> Cases()
    {
        var d = new TheoryData<GgmlType, int>();
        // Vector128 runs everywhere (software fallback when not accelerated); wider tiers use
        // AVX2 / AVX-512BW instructions and are tested where the CPU and runtime allow them.
        foreach (var l in Simd.Available().Append(SimdLevel.Vector128).Distinct())
        {
            if (l == SimdLevel.Scalar) continue;
            foreach (var t in new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.F16, GgmlType.BF16 })
                d.Add(t, (int)l);
        }
        return d;
    }

    static IEnumerable<int> Lengths(GgmlType t)
    {
        int bs = GgmlTypes.Info(t).BlockSize;
        if (bs == 1) return Enumerable.Range(0, 258).Append(1000);
        if (bs == 32) return Enumerable.Range(0, 11).Select(i => i * 32).Append(4096);
        return Enumerable.Range(0, 5).Select(i => i * 256);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Simd_dot_matches_the_scalar_reference(GgmlType type, int level)
    {
        foreach (int n in Lengths(type))
            DotCheck.SimdMatchesScalar(type, (SimdLevel)level, RandomData.Gaussian(n, n + 1), RandomData.Gaussian(n, n + 2), "");
    }

    [Fact]
    public void Vector_activation_quantizers_are_bit_identical_to_scalar()
    {
        foreach (int blocks in new[] { 0, 1, 2, 3, 4, 9 })
        {
            float[] x = RandomData.Gaussian(blocks * 256, blocks + 40, 3f);
            if (blocks == 3) Array.Clear(x, 256, 256); // a zero super-block
            if (blocks == 4) x[300] = -x.Select(MathF.Abs).Max(); // ties for the abs max
            var a = new byte[GgmlTypes.RowBytes(GgmlType.Q8_0, x.Length)];
            var b = new byte[a.Length];
            var c = new byte[GgmlTypes.RowBytes(GgmlType.Q8_K, x.Length)];
            var d = new byte[c.Length];
            fixed (float* px = x)
            fixed (byte* pa = a) fixed (byte* pb = b) fixed (byte* pc = c) fixed (byte* pd = d)
            {
                Q8_0.QuantizeActivation(px, (BlockQ8_0*)pa, x.Length);
                Q8_0Simd.QuantizeActivation(px, (BlockQ8_0*)pb, x.Length, SimdLevel.Vector256);
                Q8_K.Quantize(px, (BlockQ8_K*)pc, x.Length);
                Q8_KSimd.Quantize(px, (BlockQ8_K*)pd, x.Length, SimdLevel.Vector256);
            }
            Assert.Equal(a, b);
            Assert.Equal(c, d);
        }
    }

    [Fact]
    public void Block_structs_have_the_ggml_sizes()
    {
        Assert.Equal(GgmlTypes.Info(GgmlType.Q4_0).TypeSize, sizeof(BlockQ4_0));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q4_1).TypeSize, sizeof(BlockQ4_1));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q5_0).TypeSize, sizeof(BlockQ5_0));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q5_1).TypeSize, sizeof(BlockQ5_1));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q8_0).TypeSize, sizeof(BlockQ8_0));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q8_1).TypeSize, sizeof(BlockQ8_1));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q2_K).TypeSize, sizeof(BlockQ2_K));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q3_K).TypeSize, sizeof(BlockQ3_K));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q4_K).TypeSize, sizeof(BlockQ4_K));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q5_K).TypeSize, sizeof(BlockQ5_K));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q6_K).TypeSize, sizeof(BlockQ6_K));
        Assert.Equal(GgmlTypes.Info(GgmlType.Q8_K).TypeSize, sizeof(BlockQ8_K));
    }
}
