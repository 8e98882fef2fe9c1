using EdgeLM.Kernels;

namespace EdgeLM.Tests.Kernels;

public unsafe class AttentionKernelTests
{
    /// <summary>Vector lanes sum a D-long dot in a different order from the plain loop.</summary>
    const float RelativeTolerance = 1e-5f;

    [Theory]
    [InlineData(1, 64, 1)]
    [InlineData(7, 64, 37)]
    [InlineData(4, 128, 5)]
    [InlineData(2, 8, 257)]
    [InlineData(3, 24, 9)]
    [InlineData(2, 5, 11)]
    public void Grouped_scores_and_weighted_sums_match_the_plain_loops(int G, int D, int n)
    {
        var r = new Random(G * 1000 + D * 10 + n);
        float[] Rand(int len) => Enumerable.Range(0, len).Select(_ => r.NextSingle() * 2 - 1).ToArray();
        const int Stride = 3; // value rows of 3 heads, we read the middle one
        int keyStride = n + 5; // transposed keys: D rows of positions, with room to spare
        var q = Rand(G * D);
        var kv = Rand(n * Stride * D);
        var keysT = Rand(D * keyStride);
        var probs = Rand(G * n);
        var fast = new float[G * n];
        var plain = new float[G * n];
        var outFast = new float[G * D];
        var outPlain = new float[G * D];
        fixed (float* pq = q, pk = kv, pt = keysT, pf = fast, pp = plain, pr = probs, of = outFast, op = outPlain)
        {
            AttentionKernels.Scores(pq, G, D, pt, keyStride, n, 0.125f, pf);
            AttentionKernels.Scores(pq, G, D, pt, keyStride, n, 0.125f, pp, allowSimd: false);
            AttentionKernels.WeightedSum(pr, G, D, pk + D, Stride * D, n, of);
            AttentionKernels.WeightedSum(pr, G, D, pk + D, Stride * D, n, op, allowSimd: false);
        }
        for (int i = 0; i < plain.Length; i++)
            Assert.True(Math.Abs(plain[i] - fast[i]) <= RelativeTolerance * Math.Max(1, Math.Abs(plain[i])), $"score {i}: {plain[i]} vs {fast[i]}");
        for (int i = 0; i < outPlain.Length; i++)
            Assert.True(Math.Abs(outPlain[i] - outFast[i]) <= RelativeTolerance * Math.Max(1, Math.Abs(outPlain[i])), $"out {i}: {outPlain[i]} vs {outFast[i]}");
        // and the plain loops are what attention means: head g, position p, transposed keys
        int g1 = G - 1, p1 = n - 1;
        double expected = 0;
        for (int i = 0; i < D; i++) expected += q[g1 * D + i] * keysT[i * keyStride + p1];
        Assert.Equal(0.125 * expected, plain[g1 * n + p1], 4);
        double value = 0;
        for (int p = 0; p < n; p++) value += probs[g1 * n + p] * kv[p * Stride * D + D + 1];
        Assert.Equal(value, outPlain[g1 * D + 1], 4);
    }
}

public unsafe class QuantizedCacheKernelTests
{
    /// <summary>Vector lanes sum a D-long dot in a different order (and with fused multiply-adds) from the plain loop.</summary>
    const float RelativeTolerance = 1e-5f;

    static float[] Rand(Random r, int len) => Enumerable.Range(0, len).Select(_ => r.NextSingle() * 2 - 1).ToArray();

    static ushort[] ToHalf(float[] x) => x.Select(v => BitConverter.HalfToUInt16Bits((Half)v)).ToArray();

    static float[] Rounded(float[] x) => x.Select(v => (float)(Half)v).ToArray();

    [Theory]
    [InlineData(1, 64, 1)]
    [InlineData(7, 64, 37)]
    [InlineData(4, 128, 5)]
    [InlineData(5, 32, 257)]
    [InlineData(2, 24, 9)]
    public void F16_kernels_match_their_plain_loops_and_the_f32_kernels_on_rounded_values(int G, int D, int n)
    {
        var r = new Random(G * 1000 + D * 10 + n);
        const int Stride = 3;
        int keyStride = n + 5;
        var q = Rand(r, G * D);
        var keysT = Rand(r, D * keyStride);
        var values = Rand(r, n * Stride * D);
        var probs = Rand(r, G * n);
        var (kh, vh) = (ToHalf(keysT), ToHalf(values));
        var (qr, kr, vr) = (Rounded(q), Rounded(keysT), Rounded(values));
        var fast = new float[G * n];
        var plain = new float[G * n];
        var reference = new float[G * n];
        var outFast = new float[G * D];
        var outPlain = new float[G * D];
        var outReference = new float[G * D];
        fixed (float* pq = q, pqr = qr, pkr = kr, pvr = vr, pf = fast, pp = plain, pref = reference, pr = probs)
        fixed (float* of = outFast, op = outPlain, oref = outReference)
        fixed (ushort* pk = kh, pv = vh)
        {
            AttentionKernels.ScoresF16(pq, G, D, pk, keyStride, n, 0.125f, pf);
            AttentionKernels.ScoresF16(pq, G, D, pk, keyStride, n, 0.125f, pp, allowSimd: false);
            // F16 keys with the query rounded to F16: the F32 kernel on the rounded values
            AttentionKernels.Scores(pqr, G, D, pkr, keyStride, n, 0.125f, pref, allowSimd: false);
            var copy = (float[])probs.Clone();
            fixed (float* pc = copy) AttentionKernels.WeightedSumF16(pc, G, D, pv + D, Stride * D, n, of);
            copy = (float[])probs.Clone();
            fixed (float* pc = copy) AttentionKernels.WeightedSumF16(pc, G, D, pv + D, Stride * D, n, op, allowSimd: false);
            // F16 values with the probabilities rounded to F16: the F32 kernel on the rounded values
            var pRounded = Rounded(probs);
            fixed (float* prr = pRounded) AttentionKernels.WeightedSum(prr, G, D, pvr + D, Stride * D, n, oref, allowSimd: false);
        }
        AssertClose(plain, fast, "score (simd)");
        Assert.Equal(reference, plain); // same operations in the same order
        AssertClose(outPlain, outFast, "out (simd)");
        Assert.Equal(outReference, outPlain);
    }

    [Theory]
    [InlineData(1, 32, 3)]
    [InlineData(7, 64, 37)]
    [InlineData(4, 128, 20)]
    public void Q8_0_kernels_match_dequantized_f32_within_the_quantization_step(int G, int D, int n)
    {
        var r = new Random(G * 1000 + D * 10 + n);
        int rowBytes = (int)EdgeLM.Tensors.GgmlTypes.RowBytes(EdgeLM.Tensors.GgmlType.Q8_0, 2 * D); // two heads per row; read the second
        var q = Rand(r, G * D);
        var rows = Rand(r, n * 2 * D);
        var probs = Rand(r, G * n);
        var keys = new byte[n * rowBytes];
        var keysF = new float[n * 2 * D];
        for (int p = 0; p < n; p++)
        {
            EdgeLM.Quantization.QuantKernels.Quantize(EdgeLM.Tensors.GgmlType.Q8_0, rows.AsSpan(p * 2 * D, 2 * D), keys.AsSpan(p * rowBytes, rowBytes));
            EdgeLM.Quantization.QuantKernels.Dequantize(EdgeLM.Tensors.GgmlType.Q8_0, keys.AsSpan(p * rowBytes, rowBytes), keysF.AsSpan(p * 2 * D, 2 * D));
        }
        // the F32 reference over the dequantized rows: transposed keys of the second head
        var keysT = new float[D * n];
        for (int p = 0; p < n; p++) for (int d = 0; d < D; d++) keysT[d * n + p] = keysF[p * 2 * D + D + d];
        var scores = new float[G * n];
        var reference = new float[G * n];
        var outQ = new float[G * D];
        var outF = new float[G * D];
        int headBytes = rowBytes / 2;
        fixed (float* pq = q, pkt = keysT, pkf = keysF, ps = scores, pref = reference, pr = probs, oq = outQ, of = outF)
        fixed (byte* pk = keys)
        {
            AttentionKernels.ScoresQ8_0(pq, G, D, pk + headBytes, rowBytes, n, 0.125f, ps);
            AttentionKernels.Scores(pq, G, D, pkt, n, n, 0.125f, pref, allowSimd: false);
            AttentionKernels.WeightedSumQ8_0(pr, G, D, pk + headBytes, rowBytes, n, oq);
            AttentionKernels.WeightedSum(pr, G, D, pkf + D, 2 * D, n, of, allowSimd: false);
        }
        // Scores: the query is quantized to 8 bits too (half a step of max|q|/127 per value).
        float qStep = q.Max(Math.Abs) / 127f;
        for (int i = 0; i < scores.Length; i++)
            Assert.True(Math.Abs(scores[i] - reference[i]) <= 0.125f * D * qStep, $"score {i}: {scores[i]} vs {reference[i]}");
        AssertClose(outF, outQ, "out");
    }

    static void AssertClose(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= RelativeTolerance * Math.Max(1, Math.Abs(expected[i])), $"{what} {i}: {expected[i]} vs {actual[i]}");
    }
}

public class HalfRoundingTests
{
    /// <summary>RoundToHalf equals the round trip through System.Half (IEEE round-to-nearest-even) on every
    /// binary16 boundary region: subnormals, the normal range, ties, overflow, infinities and NaN.</summary>
    [Fact]
    public unsafe void Round_to_half_matches_system_half_scalar_and_vector()
    {
        var r = new Random(5);
        var xs = new List<float> { 0f, -0f, 1f, 65504f, 65519.99f, 65520f, 1e9f, float.PositiveInfinity, float.NegativeInfinity, float.NaN,
            5.96e-8f, 2.98e-8f, 2.99e-8f, 6.1035156e-5f, 6.1e-5f, 1e-10f, float.Epsilon };
        for (int h = 0; h < 65536; h++)
        {
            float v = (float)BitConverter.UInt16BitsToHalf((ushort)h);
            xs.Add(v);
            xs.Add(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) + 0x1000)); // a tie (exactly half an F16 step above)
            xs.Add(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) + r.Next(1, 0x2000)));
        }
        for (int i = 0; i < 100000; i++) xs.Add((r.NextSingle() * 2 - 1) * MathF.Pow(2, r.Next(-30, 20)));
        var input = xs.ToArray();
        var vec = (float[])input.Clone();
        fixed (float* p = vec) EdgeLM.Kernels.AttentionKernels.RoundToHalf(p, vec.Length);
        var scalar = (float[])input.Clone();
        fixed (float* p = scalar) EdgeLM.Kernels.AttentionKernels.RoundToHalf(p, scalar.Length, allowSimd: false);
        for (int i = 0; i < input.Length; i++)
        {
            float expected = (float)(Half)input[i];
            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(scalar[i]) || (float.IsNaN(expected) && float.IsNaN(scalar[i])),
                $"scalar {input[i]:R}: {scalar[i]:R}, System.Half {expected:R}");
            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(vec[i]) || (float.IsNaN(expected) && float.IsNaN(vec[i])),
                $"vector {input[i]:R}: {vec[i]:R}, System.Half {expected:R}");
        }
    }
}
