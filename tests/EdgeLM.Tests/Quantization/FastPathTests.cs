// The speed paths' own invariants: the inlined binary16 widening against System.Half for every input,
// and the SIMD dots against the scalar reference on long rows of many random seeds (the decode shapes'
// block counts), where a wrong lane or scale index shows up even if short rows happen to agree.
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
