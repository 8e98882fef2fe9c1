// The F16 and BF16 micro-batch products (QuantKernels.MatMulRows -> F16Gemm at AVX-512 / AVX2, the
// per-pair loop below) against the scalar references F16.VecDot / BF16.VecDot for every (row, token) pair: row counts off the
// 4- and 2-row tiles, token counts off the 6-token tile, lengths off whole vectors, several token
// blocks, rows holding inf / NaN, and outputs outside the row range left untouched.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class F16GemmTests
{
    const int MaxRows = 13;

    public static TheoryData<GgmlType, int, int, int, int, int> Cases()
    {
        var d = new TheoryData<GgmlType, int, int, int, int, int>();
        foreach (var type in new[] { GgmlType.F16, GgmlType.BF16 })
            foreach (int level in F16KernelTests.Levels())
            {
                d.Add(type, level, 0, 13, 7, 100);   // 3 row tiles + 1, 1 token tile + 1, tails in every step
                d.Add(type, level, 2, 11, 12, 64);   // 2 token tiles, whole vectors, a row range not at 0
                d.Add(type, level, 1, 10, 2, 33);    // fewer tokens than a tile
                d.Add(type, level, 0, 5, 14, 8000);  // 12-token blocks at this length: two blocks
            }
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_output_matches_the_reference_dot(GgmlType type, int level, int r0, int r1, int T, int n)
    {
        bool bf16 = type == GgmlType.BF16;
        var w = Convert(RandomData.Gaussian(MaxRows * n, n + T), bf16);
        var x = Convert(RandomData.Gaussian(T * n, n + T + 1), bf16);
        if (n == 100)
        {
            w[4 * n + 50] = bf16 ? (ushort)0x7f80 : (ushort)0x7c00; // +inf: row 4 turns inf or NaN for every token
            w[9 * n + 99] = bf16 ? (ushort)0xffc0 : (ushort)0xfe00; // NaN in row 9's tail
        }
        var y = new float[T * MaxRows];
        Array.Fill(y, -12345f);
        fixed (ushort* pw = w)
            QuantKernels.MatMulRows(type, (byte*)pw, 2L * n, r0, r1, MemoryMarshalBytes(x), 2 * n, T, y, MaxRows, n, (SimdLevel)level);
        fixed (ushort* pw = w)
        fixed (ushort* px = x)
            for (int t = 0; t < T; t++)
                for (int r = 0; r < MaxRows; r++)
                {
                    float got = y[t * MaxRows + r];
                    if (r < r0 || r >= r1)
                    {
                        Assert.True(got == -12345f, $"row {r} token {t} is outside [{r0}, {r1}) but was written: {got}");
                        continue;
                    }
                    float expected = bf16 ? BF16.VecDot(pw + r * n, px + t * n, n) : F16.VecDot(pw + r * n, px + t * n, n);
                    string where = $"{type} level {level} row {r} token {t} n={n}";
                    if (!float.IsFinite(expected))
                    {
                        Assert.True(float.IsNaN(expected) ? float.IsNaN(got) : expected == got, $"{where}: reference {expected}, got {got}");
                        continue;
                    }
                    double bound = DotCheck.ReassociationTolerance * SumAbs(pw + r * n, px + t * n, n, bf16) + 1e-30;
                    Assert.True(Math.Abs(expected - got) <= bound, $"{where}: reference {expected:R}, got {got:R}, bound {bound}");
                }
    }

    [Fact]
    public void The_blocked_kernel_is_used_where_the_cpu_has_one()
    {
        bool expected = Simd.Best >= SimdLevel.Vector256;
        Assert.Equal(expected, QuantDots.ResolveGemm(GgmlType.F16, Simd.Best) != null);
        Assert.Equal(expected, QuantDots.ResolveGemm(GgmlType.BF16, Simd.Best) != null);
    }

    static ushort[] Convert(float[] x, bool bf16)
    {
        if (!bf16) return F16KernelTests.Halves(x);
        var h = new ushort[x.Length];
        for (int i = 0; i < x.Length; i++) h[i] = QuantMath.FloatToBf16(x[i]);
        return h;
    }

    static double SumAbs(ushort* w, ushort* x, int n, bool bf16)
    {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += bf16 ? Math.Abs((double)QuantMath.Bf16ToFloat(w[i]) * QuantMath.Bf16ToFloat(x[i]))
                : Math.Abs((double)QuantMath.HalfToFloat(w[i]) * QuantMath.HalfToFloat(x[i]));
        return s;
    }

    static byte[] MemoryMarshalBytes(ushort[] x)
    {
        var b = new byte[x.Length * 2];
        Buffer.BlockCopy(x, 0, b, 0, b.Length);
        return b;
    }
}
