// The decode product over Q4_0 weights repacked at load into sixteen-row groups (Q4_0Repack), at 512 and 256 bits,
// through RepackChecks (53 rows, ranges that start and end inside a group): lengths of one, three and 28 blocks,
// 65 and 152 (DecodeRepack's column panels of 64 blocks: 64 + 1 and 64 + 64 + 24, each continuing the dots of the
// one before), and extreme raw blocks (every nibble 0 or 15 against activations of -128 or 127, the int16 sums'
// worst case; scales of fp16's largest finite value, negative ones and subnormal ones). Every output must equal
// Block32GemmLanes.ReferenceDot bit for bit (the same order of integer sums and FMAs), and outputs outside the
// range must stay untouched.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class Q4_0RepackTests
{
    const int Rows = RepackChecks.Rows;

    public static TheoryData<int> Lengths() => new() { 32, 96, 896, 2080, 4864 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Outputs_equal_the_reference_order(int n)
    {
        if (!Q4_0Repack.Supported) return; // the layout is only built on AVX-512 BW or AVX2 + FMA CPUs
        var (wq, xq) = Make(n, seed: n);
        RepackChecks.Block32(GgmlType.Q4_0, wq, xq, n, "gaussian");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Extreme_raw_blocks_equal_the_reference_order(int n)
    {
        if (!Q4_0Repack.Supported) return;
        var (wq, xq) = Make(n, seed: 3 * n);
        int rb = (int)GgmlTypes.RowBytes(GgmlType.Q4_0, n);
        // Rows 0..15 all 15s (weights +7), rows 16..31 all 0s (weights -8), the largest finite fp16 scale
        // in some blocks; the activation alternates blocks of -128 and 127.
        for (int r = 0; r < 32; r++)
            for (int b = 0; b < n / 32; b++)
            {
                int o = r * rb + b * 18;
                if (b % 3 == 0) { wq[o] = 0xFF; wq[o + 1] = 0x7B; } // 65504
                else if (b % 3 == 1) { wq[o] = 0x03; wq[o + 1] = r % 2 == 0 ? (byte)0x00 : (byte)0x80; } // ±3 * 2^-24, subnormal
                else wq[o + 1] |= 0x80; // negative
                Array.Fill(wq, r < 16 ? (byte)0xFF : (byte)0x00, o + 2, 16);
            }
        for (int b = 0; b < n / 32; b++) Array.Fill(xq, b % 2 == 0 ? (byte)0x80 : (byte)0x7F, b * 34 + 2, 32);
        RepackChecks.Block32(GgmlType.Q4_0, wq, xq, n, "extreme");
    }

    [Fact]
    public void A_matrix_with_an_infinite_or_nan_scale_is_not_repacked()
    {
        if (!Q4_0Repack.Supported) return;
        const int n = 96;
        int rb = (int)GgmlTypes.RowBytes(GgmlType.Q4_0, n);
        foreach (ushort bad in new ushort[] { 0x7C00, 0xFC00, 0x7E00 }) // +inf, -inf, NaN
        {
            var (wq, _) = Make(n, seed: 1);
            wq[37 * rb + 18] = (byte)bad; wq[37 * rb + 19] = (byte)(bad >> 8); // row 37, block 1
            fixed (byte* pw = wq) Assert.True(DecodeRepack.Create(GgmlType.Q4_0, pw, rb, Rows, n) == null, $"scale 0x{bad:X4} was repacked");
        }
    }

    static (byte[] Wq, byte[] Xq) Make(int n, int seed)
    {
        int rb = (int)GgmlTypes.RowBytes(GgmlType.Q4_0, n), ab = (int)GgmlTypes.RowBytes(GgmlType.Q8_0, n);
        float[] w = RandomData.Gaussian(Rows * n, 100 + seed), x = RandomData.Gaussian(n, 200 + seed);
        var wq = new byte[Rows * rb];
        var xq = new byte[ab];
        for (int r = 0; r < Rows; r++) QuantKernels.QuantizeReference(GgmlType.Q4_0, w.AsSpan(r * n, n), wq.AsSpan(r * rb, rb));
        QuantKernels.Quantize(GgmlType.Q8_0, x, xq);
        return (wq, xq);
    }
}
