// The blocked, packed Gemm of every accelerated tier (Vector512, Vector256, the plain loop) against
// its scalar triple loop, for the four transposition layouts, store and accumulate, and shapes that
// cross the micro-tile (6 × NR), the tile (96 × 4 NR) and the k-block (128 / 256 / 512) edges; and
// its determinism: the same bits with no pool, one thread and two threads.
// CI re-runs this class with DOTNET_EnableAVX512=0 / EnableAVX2=0 / EnableHWIntrinsic=0, which
// leaves fewer tiers accelerated; the scalar tier runs everywhere.
using EdgeLM.Kernels;
using EdgeLM.Training.Layers;

namespace EdgeLM.Tests.Training;

public unsafe class GemmTests
{
    /// <summary>Both sides sum K products of O(1) values in F32 in different orders (blocked by KC and
    /// fused multiply-adds against separate rounding): the difference grows like sqrt(K)·ε·|terms|;
    /// 1e-5·(1 + sqrt(K)) is several times the worst measured and far below one wrong term (~1).</summary>
    static float Tolerance(int K) => 1e-5f * (1 + MathF.Sqrt(K));

    static readonly int[] Ms = [1, 5, 6, 7, 97, 103];
    static readonly int[] Ns = [1, 8, 15, 16, 17, 33, 130];
    static readonly int[] Ks = [0, 1, 7, 129, 300];

    public static TheoryData<GemmTier> Tiers() => [GemmTier.Scalar, GemmTier.Vector256, GemmTier.Vector512];

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Every_layout_matches_the_plain_loop(GemmTier tier)
    {
        if (!Gemm.IsAccelerated(tier))
        {
            Console.WriteLine($"{tier}: not accelerated in this process, skipped");
            return;
        }
        using var pool = new WorkerPool(2);
        var rng = new Random(11);
        float worst = 0;
        foreach (int M in Ms)
            foreach (int N in Ns)
                foreach (int K in Ks)
                    for (int layout = 0; layout < 4; layout++)
                    {
                        bool aT = (layout & 1) != 0, bT = (layout & 2) != 0, accumulate = (M + N + K) % 2 == 0;
                        var a = GradCheck.Randn(rng, M * K);
                        var b = GradCheck.Randn(rng, K * N);
                        var c1 = GradCheck.Randn(rng, M * N);
                        var c2 = (float[])c1.Clone();
                        // A (M, K) is stored (M, K) or as its transpose (K, M); B likewise.
                        long aRow = aT ? 1 : K, aCol = aT ? M : 1, bRow = bT ? 1 : N, bCol = bT ? K : 1;
                        fixed (float* pa = a) fixed (float* pb = b) fixed (float* p1 = c1) fixed (float* p2 = c2)
                        {
                            Gemm.Multiply(p1, N, pa, aRow, aCol, pb, bRow, bCol, M, N, K, accumulate, M % 2 == 0 ? null : pool, tier);
                            Gemm.MultiplyReference(p2, N, pa, aRow, aCol, pb, bRow, bCol, M, N, K, accumulate);
                        }
                        worst = Math.Max(worst, Check(c1, c2, Tolerance(K), $"{tier} M={M} N={N} K={K} aT={aT} bT={bT} acc={accumulate}"));
                    }
        Console.WriteLine($"{tier} vs plain loop: worst |Δ| {worst:E2}");
    }

    [Fact]
    public void Results_are_bit_identical_across_thread_counts_and_runs()
    {
        const int M = 203, N = 150, K = 530;
        var rng = new Random(12);
        var a = GradCheck.Randn(rng, M * K);
        var b = GradCheck.Randn(rng, N * K);
        var start = GradCheck.Randn(rng, M * N);
        using var one = new WorkerPool(1);
        using var two = new WorkerPool(2);
        float[]? first = null;
        foreach (var pool in new[] { null, one, two, two })
        {
            var c = (float[])start.Clone();
            fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
                Gemm.Multiply(pc, N, pa, K, 1, pb, 1, K, M, N, K, accumulate: true, pool);
            if (first is null) first = c;
            else
                for (int i = 0; i < c.Length; i++)
                    if (BitConverter.SingleToInt32Bits(c[i]) != BitConverter.SingleToInt32Bits(first[i]))
                        Assert.Fail($"element {i} differs with {pool?.ThreadCount ?? 0} threads: {c[i]} vs {first[i]}");
        }
    }

    [Fact]
    public void Bf16_b_gives_the_bits_of_the_f32_path_on_the_widened_values()
    {
        using var pool = new WorkerPool(2);
        var rng = new Random(13);
        foreach (var (M, N, K, bT) in new[] { (97, 33, 300, true), (7, 130, 129, false), (1, 17, 7, true) })
        {
            var a = GradCheck.Randn(rng, M * K);
            var b16 = new ushort[K * N];
            var b32 = new float[K * N];
            for (int i = 0; i < b16.Length; i++)
            {
                b16[i] = (ushort)(BitConverter.SingleToInt32Bits(GradCheck.Randn(rng, 1)[0]) >>> 16);
                b32[i] = BitConverter.Int32BitsToSingle(b16[i] << 16);
            }
            var c16 = GradCheck.Randn(rng, M * N);
            var c32 = (float[])c16.Clone();
            long bRow = bT ? 1 : N, bCol = bT ? K : 1;
            fixed (float* pa = a) fixed (ushort* p16 = b16) fixed (float* p32 = b32) fixed (float* o16 = c16) fixed (float* o32 = c32)
            {
                Gemm.MultiplyBf16B(o16, N, pa, K, 1, p16, bRow, bCol, M, N, K, accumulate: true, pool);
                Gemm.Multiply(o32, N, pa, K, 1, p32, bRow, bCol, M, N, K, accumulate: true, pool);
            }
            for (int i = 0; i < c16.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(c32[i]), BitConverter.SingleToInt32Bits(c16[i]));
        }
    }

    static float Check(float[] actual, float[] expected, float tol, string what)
    {
        float max = 0;
        int at = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            float d = Math.Abs(actual[i] - expected[i]);
            if (d > max) (max, at) = (d, i);
        }
        if (max > tol) Assert.Fail($"{what}: max |Δ| {max} at {at}: {actual[at]} vs {expected[at]} (tolerance {tol})");
        return max;
    }
}
