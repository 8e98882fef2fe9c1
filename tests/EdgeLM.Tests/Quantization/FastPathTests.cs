// The speed paths' own invariants: the inlined binary16 widening and narrowing against System.Half
// (every half; every float at a rounding boundary), and the SIMD dots against the scalar reference on
// long rows of many random seeds (the decode shapes' block counts), where a wrong lane or scale index
// shows up even if short rows happen to agree.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class FastPathTests
{
    [Fact]
    public void Half_widening_equals_System_Half_for_all_65536_inputs()
    {
        for (int h = 0; h < 65536; h++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)h);
            float actual = QuantMath.HalfToFloat((ushort)h);
            Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual),
                $"0x{h:x4}: System.Half {expected:R} (0x{BitConverter.SingleToUInt32Bits(expected):x8}), ours 0x{BitConverter.SingleToUInt32Bits(actual):x8}");
        }
    }

    /// <summary>The inline float -> half conversion against System.Half's: every float whose low 12 bits are
    /// 0x000, 0x7ff, 0x800, 0x801 or 0xfff (the rounding boundaries: just below, at and above a tie, for both
    /// parities of the kept bit) at every exponent and sign, plus infinities, NaNs and a pseudo-random sweep.</summary>
    [Fact]
    public void Float_to_half_equals_System_Half_at_every_rounding_boundary()
    {
        static void Check(uint bits)
        {
            float f = BitConverter.UInt32BitsToSingle(bits);
            ushort expected = BitConverter.HalfToUInt16Bits((Half)f), actual = QuantMath.FloatToHalf(f);
            Assert.True(expected == actual, $"float 0x{bits:x8} ({f:R}): System.Half 0x{expected:x4}, ours 0x{actual:x4}");
        }
        foreach (uint low in new uint[] { 0x000, 0x7ff, 0x800, 0x801, 0xfff, 0x1000, 0x1800 })
            for (uint high = 0; high < 1u << 19; high++) Check(high << 13 | low);
        var rng = new Random(12);
        for (int i = 0; i < 1 << 20; i++) Check((uint)rng.NextInt64(0, 1L << 32));
    }

    public static TheoryData<GgmlType, int> Cases()
    {
        var d = new TheoryData<GgmlType, int>();
        foreach (var l in Simd.Available().Append(SimdLevel.Vector128).Distinct())
            foreach (var t in new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.F16, GgmlType.BF16 })
                if (l != SimdLevel.Scalar) d.Add(t, (int)l);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Simd_dots_match_the_scalar_reference_on_decode_length_rows(GgmlType type, int level)
    {
        foreach (int n in new[] { 2048, 4864 })
        {
            // Called repeatedly so the optimizing JIT compiles the kernel, not only tier 0.
            for (int seed = 0; seed < 40; seed++)
                DotCheck.SimdMatchesScalar(type, (SimdLevel)level,
                    RandomData.Gaussian(n, 1000 + seed, 1 + seed % 5), RandomData.Gaussian(n, 2000 + seed), $"seed={seed}");
        }
    }
}
