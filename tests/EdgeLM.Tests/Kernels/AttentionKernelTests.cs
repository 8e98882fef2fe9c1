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
