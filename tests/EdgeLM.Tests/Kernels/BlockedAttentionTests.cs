// The prompt-block attention kernels (AttentionKernels.BlockScores / CausalSoftmax / BlockWeightedSum)
// against the per-token kernels the decoder used before them, token by token, and against attention
// written out in double precision. Blocks whose length is not a multiple of the position tile, a
// first position past 0, one and seven query heads per KV head, F32 and F16 caches, every head size
// path (multiple of 16, of 8, neither), single decode tokens, key rows that end at the last position.
using EdgeLM.Kernels;

namespace EdgeLM.Tests.Kernels;

public unsafe class BlockedAttentionTests
{
    /// <summary>Vector paths: a position the per-token kernel leaves to its Vector256 or scalar tail is summed with
    /// unfused multiply-adds there and fused ones in the block kernel; a few ulps of a score of magnitude ≤ ~D.</summary>
    const float TailRoundingTolerance = 1e-5f;

    /// <summary>F16 values: a score that differs in its last bit can move its probability across an F16 rounding
    /// boundary, one F16 step (2^-11 relative) of one probability times a value of magnitude ≤ 1.</summary>
    const float HalfProbabilityStep = 1.0f / 2048;

    /// <summary>Against double-precision attention on the same (rounded) inputs: F32 sums of ≤ 300 terms.</summary>
    const float F32SumTolerance = 2e-5f;

    public static TheoryData<int, int, int, int, bool, bool> Cases()
    {
        var data = new TheoryData<int, int, int, int, bool, bool>();
        foreach (bool half in new[] { false, true })
            foreach (bool simd in new[] { false, true })
            {
                data.Add(7, 64, 0, 4, half, simd);   // Qwen2.5-0.5B's grouping, a block from position 0
                data.Add(7, 64, 29, 3, half, simd);  // a short last block after 29 cached positions
                data.Add(1, 64, 5, 16, half, simd);  // one head per KV head, a full block of 16 tokens
                data.Add(4, 128, 250, 8, half, simd);
                data.Add(2, 24, 13, 5, half, simd);  // head size a multiple of 8 only
                data.Add(3, 20, 1, 2, half, simd);   // neither: the plain loops
                data.Add(7, 64, 40, 1, half, simd);  // one decode token: a last tile of 9 positions, read whole and masked
                data.Add(7, 64, 41, 1, half, simd);  // the key rows end at the last position: that tile read position by position
                data.Add(4, 128, 300, 1, half, simd);
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_block_matches_the_per_token_kernels_and_double_precision_attention(int G, int D, int pos0, int tokens, bool half, bool simd)
    {
        var r = new Random(G * 7919 + D * 31 + pos0 * 3 + tokens + (half ? 1 : 0));
        // Even first positions leave 21 unwritten positions after the last (NaN here, as stale cache may hold);
        // odd ones make the key rows end exactly at the last position.
        int n = pos0 + tokens, ctx = n + (pos0 % 2 == 0 ? 21 : 0), R = tokens * G, kvDim = 3 * D, kvh = 1; // three KV heads, we use the middle one
        int rowsPad = (R + AttentionKernels.RowTile - 1) / AttentionKernels.RowTile * AttentionKernels.RowTile;
        int stride = (n + AttentionKernels.PositionTile - 1) / AttentionKernels.PositionTile * AttentionKernels.PositionTile;
        var q = Rand(r, rowsPad * D);
        Array.Clear(q, R * D, (rowsPad - R) * D);
        // transposed keys (kvDim, ctx) and value rows (ctx, kvDim), F32 or F16
        var keysF = Rand(r, kvDim * ctx);
        for (int row = 0; row < kvDim; row++)
            for (int p = n; p < ctx; p++) keysF[row * ctx + p] = float.NaN;
        var valuesF = Rand(r, ctx * kvDim);
        var (keysH, valuesH) = (ToHalf(keysF), ToHalf(valuesF));
        float scale = 1 / MathF.Sqrt(D);
        var block = new float[R * D];
        var perToken = new float[R * D];
        fixed (float* pq = q, kf = keysF, vf = valuesF, pb = block, pt = perToken)
        fixed (ushort* kh = keysH, vh = valuesH)
        {
            void* keys = half ? kh + kvh * D * ctx : kf + kvh * D * ctx;
            void* values = half ? vh + kvh * D : vf + kvh * D;
            var qb = (float[])q.Clone();
            var scores = new float[rowsPad * stride];
            var tile = new float[AttentionKernels.PositionTile * D];
            fixed (float* pqb = qb, ps = scores, ptile = tile)
            {
                if (half) AttentionKernels.RoundToHalf(pqb, R * D);
                AttentionKernels.BlockScores(pqb, R, D, keys, half, ctx, n, scale, ps, stride, ptile, simd);
                AttentionKernels.CausalSoftmax(ps, R, G, pos0 + 1, stride, n);
                for (int row = 0; row < R; row++)
                    for (int p = pos0 + 1 + row / G; p < n; p++) Assert.Equal(0f, scores[row * stride + p]); // masked
                AttentionKernels.BlockWeightedSum(ps, R, stride, D, values, half, kvDim, n, pb, ptile, simd);
            }
            // the per-token kernels, token i seeing positions [0, pos0 + i]
            var sc = new float[G * n];
            fixed (float* psc = sc)
                for (int i = 0; i < tokens; i++)
                {
                    int ni = pos0 + i + 1;
                    float* qi = pq + i * G * D, oi = pt + i * G * D;
                    if (half) AttentionKernels.ScoresF16(qi, G, D, kh + kvh * D * ctx, ctx, ni, scale, psc, simd);
                    else AttentionKernels.Scores(qi, G, D, kf + kvh * D * ctx, ctx, ni, scale, psc, simd);
                    for (int g = 0; g < G; g++) Activations.Softmax(new Span<float>(psc + g * ni, ni));
                    if (half) AttentionKernels.WeightedSumF16(psc, G, D, vh + kvh * D, kvDim, ni, oi, simd);
                    else AttentionKernels.WeightedSum(psc, G, D, vf + kvh * D, kvDim, ni, oi, simd);
                }
        }
        // The plain loops do the same operations in the same order: equal to the bit. Vector paths: see the tolerances.
        if (!simd) Assert.Equal(perToken, block);
        else AssertClose(perToken, block, half ? HalfProbabilityStep : TailRoundingTolerance, "block vs per-token");

        // What attention means, in double precision, over the values the kernels see (F16-rounded for F16 caches).
        var expected = new float[R * D];
        for (int row = 0; row < R; row++)
        {
            int seen = pos0 + 1 + row / G;
            var s = new double[seen];
            for (int p = 0; p < seen; p++)
            {
                double dot = 0;
                for (int d = 0; d < D; d++)
                    dot += Round(q[row * D + d], half) * Round(keysF[(kvh * D + d) * ctx + p], half);
                s[p] = dot * scale;
            }
            double max = s.Max(), sum = s.Sum(x => Math.Exp(x - max));
            for (int d = 0; d < D; d++)
            {
                double o = 0;
                for (int p = 0; p < seen; p++) o += Math.Exp(s[p] - max) / sum * Round(valuesF[p * kvDim + kvh * D + d], half);
                expected[row * D + d] = (float)o;
            }
        }
        AssertClose(expected, block, half ? HalfProbabilityStep : F32SumTolerance, "block vs double precision");
    }

    public static TheoryData<int, int, int, bool> FusedCases()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (bool finite in new[] { false, true })
        {
            data.Add(4, 64, 37, finite);   // Llama-3.2-1B's decode block: two whole key tiles, a last one of 5
            data.Add(7, 64, 144, finite);  // Qwen2.5-0.5B's: two row tiles, the second of three rows; whole tiles only
            data.Add(8, 128, 33, finite);  // the largest fused block, head size 128
            data.Add(1, 80, 16, finite);   // one row; head size 64 + 16: a four-vector and a one-vector pass
            data.Add(3, 48, 70, finite);   // head size 48: one-vector passes only
            data.Add(9, 64, 40, finite);   // above FusedRows: both calls take the tile path
        }
        return data;
    }

    /// <summary>finite: the cache holds no infinity or NaN, so the fused kernels may widen with the finite-only
    /// conversion (subnormals and signed zeros included here); otherwise an infinite key and a NaN value.</summary>
    [Theory]
    [MemberData(nameof(FusedCases))]
    public void Widening_F16_in_registers_gives_the_tile_paths_scores_and_sums_to_the_bit(int R, int D, int n, bool finite)
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) return; // the fused path is the 512-bit one
        var r = new Random(R * 1000 + D * 10 + n);
        int ctx = n + 21, kvDim = 2 * D, rowsPad = (R + AttentionKernels.RowTile - 1) / AttentionKernels.RowTile * AttentionKernels.RowTile;
        int stride = (n + AttentionKernels.PositionTile - 1) / AttentionKernels.PositionTile * AttentionKernels.PositionTile;
        var q = Rand(r, rowsPad * D);
        Array.Clear(q, R * D, (rowsPad - R) * D);
        var keys = ToHalf(Rand(r, kvDim * ctx));
        var values = ToHalf(Rand(r, ctx * kvDim));
        if (finite)
        {
            (keys[D * ctx + 3], keys[D * ctx + 4], keys[(D + 1) * ctx + 5]) = (0x0001, 0x8000, 0x83FF); // subnormals, -0
            (values[5 * kvDim + D + 2], values[6 * kvDim + D + 3]) = (0x8001, 0x7BFF); // a negative subnormal, 65504
        }
        else
        {
            keys[D * ctx + 3] = BitConverter.HalfToUInt16Bits(Half.PositiveInfinity); // a special value widens exactly too
            values[5 * kvDim + D + 2] = BitConverter.HalfToUInt16Bits(Half.NaN);
        }
        var (sTile, sFused) = (new float[rowsPad * stride], new float[rowsPad * stride]);
        var (oTile, oFused) = (new float[R * D], new float[R * D]);
        var tile = new float[AttentionKernels.PositionTile * D];
        fixed (float* pq = q, pst = sTile, psf = sFused, pot = oTile, pof = oFused, pt = tile)
        fixed (ushort* pk = keys, pv = values)
        {
            AttentionKernels.RoundToHalf(pq, R * D);
            ushort* k = pk + D * ctx, v = pv + D; // the second KV head
            AttentionKernels.BlockScores(pq, R, D, k, true, ctx, n, 0.125f, pst, stride, pt, allowSimd: true, fuse: false, finite: false);
            AttentionKernels.BlockScores(pq, R, D, k, true, ctx, n, 0.125f, psf, stride, pt, allowSimd: true, fuse: true, finite);
            for (int row = 0; row < R; row++)
                Assert.Equal(sTile.AsSpan(row * stride, n).ToArray(), sFused.AsSpan(row * stride, n).ToArray());
            // Probabilities of their own (the scores above hold the infinity's NaNs after a softmax).
            for (int i = 0; i < sTile.Length; i++) sTile[i] = sFused[i] = r.NextSingle();
            AttentionKernels.BlockWeightedSum(pst, R, stride, D, v, true, kvDim, n, pot, pt, allowSimd: true, fuse: false, finite: false);
            AttentionKernels.BlockWeightedSum(psf, R, stride, D, v, true, kvDim, n, pof, pt, allowSimd: true, fuse: true, finite);
        }
        Assert.Equal(oTile, oFused);
        for (int row = 0; row < R; row++)
            for (int i = 0; i < D; i++) Assert.Equal(!finite && i == 2, float.IsNaN(oFused[row * D + i])); // the NaN value reaches its column only
    }

    static double Round(float x, bool half) => half ? (double)(Half)x : x;

    static float[] Rand(Random r, int len)
    {
        var x = new float[len];
        for (int i = 0; i < len; i++) x[i] = r.NextSingle() * 2 - 1;
        return x;
    }

    static ushort[] ToHalf(float[] x)
    {
        var h = new ushort[x.Length];
        for (int i = 0; i < x.Length; i++) h[i] = BitConverter.HalfToUInt16Bits((Half)x[i]);
        return h;
    }

    static void AssertClose(float[] expected, float[] actual, float tolerance, string what)
    {
        float worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            float diff = Math.Abs(expected[i] - actual[i]) / Math.Max(1, Math.Abs(expected[i]));
            if (diff > worst) (worst, at) = (diff, i);
        }
        Assert.True(worst <= tolerance, $"{what}: max relative difference {worst} at {at} ({(at < 0 ? 0 : expected[at])} vs {(at < 0 ? 0 : actual[at])})");
    }
}
