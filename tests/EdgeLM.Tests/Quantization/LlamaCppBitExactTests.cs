// Our quantizers, dequantizers, activation converters and dots against llama.cpp's own (the ggml
// libraries of LLamaSharp.Backend.Cpu, called directly): blocks byte for byte, values bit for bit.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Quantization;

public class LlamaCppBitExactTests(ITestOutputHelper output)
{
    public static TheoryData<GgmlType> WeightTypes => new()
    {
        GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    };

    public static TheoryData<GgmlType> ActivationTypes => new() { GgmlType.Q8_0, GgmlType.Q8_1, GgmlType.Q8_K, GgmlType.F16, GgmlType.BF16 };

    const int N = 512; // row length: a multiple of 256 so every K-quant applies

    /// <summary>Gaussian rows at three scales plus the awkward rows, as one matrix of 512-wide rows.</summary>
    static float[] Source()
    {
        var parts = new List<float>();
        parts.AddRange(RandomData.Gaussian(4 * N, 1));
        parts.AddRange(RandomData.Gaussian(2 * N, 2, 0.02f));
        parts.AddRange(RandomData.Gaussian(2 * N, 3, 30f));
        parts.AddRange(RandomData.AwkwardRows(4));
        var x = parts.ToArray();
        return x[..(x.Length / N * N)];
    }

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Reference_quantization_matches_llama_cpp_byte_for_byte(GgmlType type)
    {
        Assert.True(GgmlNative.Available, "the llama.cpp oracle needs Linux x64 with AVX-512");
        float[] src = Source();
        int rows = src.Length / N;
        byte[] expected = GgmlNative.QuantizeChunk(type, src, rows, N);
        int rowBytes = (int)GgmlTypes.RowBytes(type, N);
        var actual = new byte[expected.Length];
        for (int r = 0; r < rows; r++)
            QuantKernels.QuantizeReference(type, src.AsSpan(r * N, N), actual.AsSpan(r * rowBytes, rowBytes));
        AssertBlocksEqual(type, expected, actual);
    }

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Dequantization_matches_llama_cpp_bit_for_bit(GgmlType type)
    {
        Assert.True(GgmlNative.Available, "the llama.cpp oracle needs Linux x64 with AVX-512");
        float[] src = Source();
        byte[] q = GgmlNative.QuantizeChunk(type, src, src.Length / N, N);
        float[] expected = GgmlNative.Dequantize(type, q, src.Length);
        var actual = new float[src.Length];
        QuantKernels.Dequantize(type, q, actual);
        for (int i = 0; i < src.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{type} element {i}: llama.cpp {expected[i]:R}, ours {actual[i]:R}");
    }

    [Theory]
    [MemberData(nameof(ActivationTypes))]
    public void Activation_quantization_matches_the_llama_cpp_cpu_backend(GgmlType type)
    {
        Assert.True(GgmlNative.Available, "the llama.cpp oracle needs Linux x64 with AVX-512");
        float[] src = Source();
        byte[] expected = GgmlNative.FromFloat(type, src);
        var actual = new byte[expected.Length];
        QuantKernels.Quantize(type, src, actual);
        AssertBlocksEqual(type, expected, actual);
    }

    [Fact]
    public void Half_conversion_rounds_like_ggml_for_every_kind_of_float()
    {
        Assert.True(GgmlNative.Available, "the llama.cpp oracle needs Linux x64 with AVX-512");
        // Random bit patterns cover subnormal results, overflow to infinity and ties; NaN excluded
        // because payload handling is not specified beyond "stays NaN".
        var r = new Random(5);
        var x = new float[1 << 16];
        for (int i = 0; i < x.Length; i++)
        {
            float v;
            do v = BitConverter.Int32BitsToSingle(r.Next(int.MinValue, int.MaxValue) >> (i % 3)); while (float.IsNaN(v));
            x[i] = v * (i % 2 == 0 ? 1f : 1e-30f);
        }
        byte[] expected = GgmlNative.FromFloat(GgmlType.F16, x);
        var actual = new byte[expected.Length];
        QuantKernels.Quantize(GgmlType.F16, x, actual);
        AssertBlocksEqual(GgmlType.F16, expected, actual);
    }

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Vec_dot_type_matches_llama_cpp(GgmlType type)
    {
        Assert.True(GgmlNative.Available, "the llama.cpp oracle needs Linux x64 with AVX-512");
        Assert.Equal(GgmlNative.VecDotType(type), QuantKernels.VecDotType(type));
    }

    /// <summary>llama.cpp's AVX-512 dots sum in a different float order (and with FMA) than ours, so
    /// the results agree to float rounding of the accumulation: relative to the sum of |terms|.</summary>
    const float DotRelTolerance = 2e-5f;

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Dot_products_match_llama_cpp_within_float_rounding(GgmlType type)
    {
        Assert.True(GgmlNative.Available, "the llama.cpp oracle needs Linux x64 with AVX-512");
        var vt = QuantKernels.VecDotType(type);
        for (int seed = 0; seed < 8; seed++)
        {
            float[] w = RandomData.Gaussian(N, 100 + seed), x = RandomData.Gaussian(N, 200 + seed);
            byte[] wq = GgmlNative.QuantizeChunk(type, w, 1, N);
            byte[] xq = GgmlNative.FromFloat(vt, x);
            float expected = GgmlNative.VecDot(type, wq, xq, N);
            float actual = QuantKernels.VecDot(type, wq, xq, N);
            float scale = AbsDot(type, vt, wq, xq);
            Assert.True(MathF.Abs(expected - actual) <= DotRelTolerance * scale,
                $"{type} seed {seed}: llama.cpp {expected:R}, ours {actual:R}, sum|terms| {scale}");
        }
    }

    static float AbsDot(GgmlType type, GgmlType vt, byte[] wq, byte[] xq)
    {
        var a = new float[N];
        var b = new float[N];
        QuantKernels.Dequantize(type, wq, a);
        QuantKernels.Dequantize(vt, xq, b);
        double s = 0;
        for (int i = 0; i < N; i++) s += Math.Abs((double)a[i] * b[i]);
        return (float)s;
    }

    void AssertBlocksEqual(GgmlType type, byte[] expected, byte[] actual)
    {
        var info = GgmlTypes.Info(type);
        int bs = info.TypeSize;
        for (int b = 0; b < expected.Length / bs; b++)
        {
            var e = expected.AsSpan(b * bs, bs);
            var a = actual.AsSpan(b * bs, bs);
            if (e.SequenceEqual(a)) continue;
            output.WriteLine($"llama.cpp: {Convert.ToHexString(e)}");
            output.WriteLine($"ours:      {Convert.ToHexString(a)}");
            Assert.Fail($"{type} block {b} (elements {b * info.BlockSize}..) differs\n llama.cpp {Convert.ToHexString(e)}\n ours      {Convert.ToHexString(a)}");
        }
    }
}
