// The decode product over Q5_0 weights repacked at load into sixteen-row groups (Q5_0Repack), at 512 and 256 bits:
// over 53 rows (three full groups and a padded one), row ranges that start and end inside a group, lengths of one,
// three, 28, 65 and 152 blocks (the last two in DecodeRepack's column panels of 64 blocks: 64 + 1, and 64 + 64 +
// 24, each panel continuing the dots of the one before), and extreme raw blocks (weights of 15 and -16, and mixed
// fifth-bit patterns that tell every element's bit apart, against activations of -128 and 127, the int16 sums'
// worst case; scales of fp16's largest finite value, negative ones and subnormal ones). Every output must equal
// Block32GemmLanes.ReferenceDot bit for bit (the same order of integer sums and FMAs), and outputs outside the
// range must stay untouched; a matrix with an infinite or NaN scale must not be repacked.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class Q5_0RepackTests
{
    const int Rows = RepackChecks.Rows;
    const int BlockBytes = 22, ActBytes = 34; // sizeof(BlockQ5_0), sizeof(BlockQ8_0)

    public static TheoryData<int> Lengths() => new() { 32, 96, 896, 2080, 4864 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Outputs_equal_the_reference_order(int n)
    {
        if (!Q5_0Repack.Supported) return; // the layout is only built on AVX-512 BW or AVX2 + FMA CPUs
        var (wq, xq) = Make(n, seed: n);
        RepackChecks.Block32(GgmlType.Q5_0, wq, xq, n, "gaussian");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Extreme_raw_blocks_equal_the_reference_order(int n)
    {
        if (!Q5_0Repack.Supported) return;
        var (wq, xq) = Make(n, seed: 3 * n);
        int rb = (int)GgmlTypes.RowBytes(GgmlType.Q5_0, n);
        // Rows 0..15 all 15 (every bit set), rows 16..31 all -16 (none), rows 32..47 alternating nibbles
        // with a fifth-bit mask that differs per row and block; the largest finite
        // fp16 scale in some blocks, subnormal or negative ones in others. The activation's blocks are all
        // -128, all 127, or alternate the two.
        for (int r = 0; r < 48; r++)
            for (int b = 0; b < n / 32; b++)
            {
                int o = r * rb + b * BlockBytes;
                if (b % 3 == 0) { wq[o] = 0xFF; wq[o + 1] = 0x7B; } // 65504
                else if (b % 3 == 1) { wq[o] = 0x03; wq[o + 1] = r % 2 == 0 ? (byte)0x00 : (byte)0x80; } // ±3 * 2^-24, subnormal
                else wq[o + 1] |= 0x80; // negative
                uint qh = r < 16 ? 0xFFFFFFFFu : r < 32 ? 0u : 0x5A5AC3C3u ^ (uint)(r * 0x01010101) ^ (uint)(b << 7);
                BitConverter.TryWriteBytes(wq.AsSpan(o + 2, 4), qh);
                for (int i = 0; i < 16; i++)
                    wq[o + 6 + i] = r < 16 ? (byte)0xFF : r < 32 ? (byte)0x00 : i % 2 == 0 ? (byte)0x0F : (byte)0xF0;
            }
        for (int b = 0; b < n / 32; b++)
            for (int i = 0; i < 32; i++)
                xq[b * ActBytes + 2 + i] = (b % 3) switch { 0 => 0x80, 1 => 0x7F, _ => i % 2 == 0 ? (byte)0x80 : (byte)0x7F };
        RepackChecks.Block32(GgmlType.Q5_0, wq, xq, n, "extreme");
    }

    [Fact]
    public void A_matrix_with_an_infinite_or_nan_scale_is_not_repacked()
    {
        if (!Q5_0Repack.Supported) return;
        const int n = 96;
        int rb = (int)GgmlTypes.RowBytes(GgmlType.Q5_0, n);
        foreach (ushort bad in new ushort[] { 0x7C00, 0xFC00, 0x7E00 }) // +inf, -inf, NaN
        {
            var (wq, _) = Make(n, seed: 1);
            wq[37 * rb + BlockBytes] = (byte)bad; wq[37 * rb + BlockBytes + 1] = (byte)(bad >> 8); // row 37, block 1
            fixed (byte* pw = wq) Assert.True(DecodeRepack.Create(GgmlType.Q5_0, pw, rb, Rows, n) == null, $"scale 0x{bad:X4} was repacked");
        }
    }

    static (byte[] Wq, byte[] Xq) Make(int n, int seed)
    {
        int rb = (int)GgmlTypes.RowBytes(GgmlType.Q5_0, n), ab = (int)GgmlTypes.RowBytes(GgmlType.Q8_0, n);
        float[] w = RandomData.Gaussian(Rows * n, 100 + seed), x = RandomData.Gaussian(n, 200 + seed);
        var wq = new byte[Rows * rb];
        var xq = new byte[ab];
        for (int r = 0; r < Rows; r++) QuantKernels.QuantizeReference(GgmlType.Q5_0, w.AsSpan(r * n, n), wq.AsSpan(r * rb, rb));
        QuantKernels.Quantize(GgmlType.Q8_0, x, xq);
        return (wq, xq);
    }
}
