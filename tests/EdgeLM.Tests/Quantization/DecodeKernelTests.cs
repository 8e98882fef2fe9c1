// The decode path (Block32Decode at 512 bits, Block32Decode256 at 256: the activation row prepared
// once, the weight rows streamed, two rows at a time plus a single last row) against
// the single-row dot of the same SIMD level, bit for bit (the prefill kernels are held to that same
// dot, so decode and prefill agree), and against the scalar reference within the reassociation
// tolerance. Every tier available here (CI re-runs this namespace with AVX-512 and AVX2 switched off),
// block counts with every tail (4k + 0..3 blocks, odd and even step counts), raw random weight bytes
// (every nibble and high-bit pattern, Q8_0's -128 included) and the extremes: scales of ±65504 and
// subnormal scales on both sides, nibbles all 0 or all 15, high bits all clear or all set.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class DecodeKernelTests
{
    const int Rows = 7; // three row pairs and a single row
    static readonly ushort[] ExtremeScales = [0x7bff, 0xfbff, 0x0001, 0x83ff, 0x0000, 0x8000, 0x3c00];

    public static TheoryData<GgmlType> Types() => new() { GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q8_0 };

    [Theory]
    [MemberData(nameof(Types))]
    public void Prepared_rows_equal_the_single_row_dot_and_the_scalar_reference(GgmlType type)
    {
        int[] blockCounts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 28, 152, 153];
        foreach (int blocks in blockCounts)
        {
            int n = 32 * blocks;
            int rb = (int)GgmlTypes.RowBytes(type, n);
            // Exactly Rows rows, no slack: a load past the last row would read outside the array's data.
            var w = Weights(type, n, blocks);
            var a = new byte[GgmlTypes.RowBytes(GgmlType.Q8_0, n)];
            QuantKernels.Quantize(GgmlType.Q8_0, RandomData.Gaussian(n, blocks, 3f), a);
            if (blocks % 2 == 1) SetScales(a, 34, blocks, blocks); // extreme activation scales too
            foreach (var level in Simd.Available())
                Check(type, level, w, rb, a, n, $"{type} {level} blocks={blocks}");
        }
    }

    [Fact]
    public void The_decode_path_runs_where_supported_and_allocates_nothing_per_product()
    {
        const int n = 896;
        var type = GgmlType.Q4_0;
        var w = Weights(type, n, 28);
        var a = new byte[GgmlTypes.RowBytes(GgmlType.Q8_0, n)];
        QuantKernels.Quantize(GgmlType.Q8_0, RandomData.Gaussian(n, 5), a);
        var y = new float[Rows];
        fixed (byte* pw = w) fixed (byte* pa = a) fixed (float* py = y)
        {
            Block32Decode.Rows(type, Simd.Best, pw, w.Length / Rows, Rows, pa, py, n);
            bool ran = false;
            nint w0 = (nint)pw, a0 = (nint)pa, y0 = (nint)py; // fixed pointers cannot be captured
            Assert.Equal(0, Allocations.Least(() => ran = Block32Decode.Rows(type, Simd.Best, (byte*)w0, w.Length / Rows, Rows, (byte*)a0, (float*)y0, n)));
            Assert.Equal(Block32Decode.Supported(type, Simd.Best), ran);
            Assert.False(Block32Decode.Rows(type, Simd.Best, pw, w.Length / Rows, 3, pa, py, n)); // too few rows to prepare for
        }
    }

    [Fact]
    public void The_literal_permute_controls_equal_their_generators()
    {
        Assert.Equal(Block32Decode.Twice(2, 20), Q4_0Decode.C0);
        Assert.Equal(Block32Decode.Twice(30, 48), Q4_0Decode.C1);
        Assert.Equal(Block32Decode.Words(0, 9, 18, 27, 32, 41, 50, 59), Q4_0Decode.S8);
        Assert.Equal(Block32Decode.Twice(6, 28), Q5_0Decode.C0);
        Assert.Equal(Block32Decode.Twice(26, 48), Q5_0Decode.C1);
        Assert.Equal(Q5_0Decode.HighWords(2, 24), Q5_0Decode.H0);
        Assert.Equal(Q5_0Decode.HighWords(22, 44), Q5_0Decode.H1);
        Assert.Equal(Q5_0Decode.ShiftControl(), Q5_0Decode.Shift);
        Assert.Equal(Block32Decode.Words(0, 11, 32 + 10, 32 + 21), Q5_0Decode.S4);
    }

    static void Check(GgmlType type, SimdLevel level, byte[] w, int rb, byte[] a, int n, string label)
    {
        var y = new float[Rows];
        var dot = QuantDots.Resolve(type, level);
        var scalar = QuantDots.Resolve(type, SimdLevel.Scalar);
        fixed (byte* pw = w) fixed (byte* pa = a) fixed (float* py = y)
        {
            bool ran = Block32Decode.Rows(type, level, pw, rb, Rows, pa, py, n);
            Assert.True(ran == (Block32Decode.Supported(type, level) && n >= 128), $"{label}: ran {ran}");
            if (!ran) return;
            for (int r = 0; r < Rows; r++)
            {
                float single = dot(pw + r * rb, pa, n), s = scalar(pw + r * rb, pa, n);
                Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(y[r]),
                    $"{label} row {r}: single-row dot {single:R}, decode path {y[r]:R}");
                double bound = DotCheck.ReassociationTolerance * SumAbs(type, w.AsSpan(r * rb, rb), a, n) + 1e-30;
                Assert.True(Math.Abs(s - y[r]) <= bound, $"{label} row {r}: scalar {s:R}, decode path {y[r]:R}, bound {bound}");
            }
        }
    }

    /// <summary>Rows rows: 0 all-zero nibbles (high bits clear, Q8_0 all -128) at scale 65504, 1 all-15
    /// nibbles (high bits set, Q8_0 all 127) at -65504, 2 random bytes with subnormal and extreme scales,
    /// the rest random bytes with ordinary scales.</summary>
    static byte[] Weights(GgmlType type, int n, int seed)
    {
        int rb = (int)GgmlTypes.RowBytes(type, n), bb = (int)GgmlTypes.RowBytes(type, 32), blocks = n / 32;
        var w = new byte[Rows * rb];
        new Random(seed).NextBytes(w);
        Array.Fill(w, (byte)0x00, 0, rb);
        Array.Fill(w, type == GgmlType.Q8_0 ? (byte)0x7f : (byte)0xff, rb, rb);
        if (type == GgmlType.Q8_0) Array.Fill(w, (byte)0x80, 0, rb);
        var r = new Random(seed + 1);
        for (int row = 0; row < Rows; row++)
            for (int b = 0; b < blocks; b++)
            {
                ushort h = row switch
                {
                    0 => 0x7bff,
                    1 => 0xfbff,
                    2 => ExtremeScales[(b + seed) % ExtremeScales.Length],
                    _ => BitConverter.HalfToUInt16Bits((Half)(r.NextDouble() * 0.02 - 0.01)),
                };
                BitConverter.TryWriteBytes(w.AsSpan(row * rb + b * bb), h);
            }
        return w;
    }

    static void SetScales(byte[] row, int bb, int blocks, int seed)
    {
        for (int b = 0; b < blocks; b++)
            BitConverter.TryWriteBytes(row.AsSpan(b * bb), ExtremeScales[(b * 3 + seed) % ExtremeScales.Length]);
    }

    /// <summary>Σ |w_i x_i| of the dequantized rows: the scale of the float rounding both sums carry.</summary>
    static double SumAbs(GgmlType type, ReadOnlySpan<byte> w, byte[] a, int n)
    {
        var wf = new float[n];
        var xf = new float[n];
        QuantKernels.Dequantize(type, w, wf);
        QuantKernels.Dequantize(GgmlType.Q8_0, a, xf);
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.Abs((double)wf[i] * xf[i]);
        return s;
    }
}
