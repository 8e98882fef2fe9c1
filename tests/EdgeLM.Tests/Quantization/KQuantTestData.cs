// Raw K-quant blocks at the extremes for the kernel tests (KQuantLanesTests, KQuantRepackTests): what a
// quantizer never writes but a file may hold.
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Tests.Quantization;

internal static unsafe class KQuantTestData
{
    /// <summary>Random bytes in every field with finite super-scales from <paramref name="halves"/>, then per row a
    /// twist: r % 4 == 1 all quant bits set (nibbles 15, 6-bit values 63), 2 the extreme scales (Q4_K scale bytes
    /// 0xFF: every scale and min 63; Q6_K -128 and 127 alternating), 3 the largest fp16 d and dmin = largestDmin.
    /// Activations: random quants from lowestQuant to 127, all +127 (t = 1), all -128 (t = 2), tiny d (t = 3).</summary>
    public static (byte[] Wq, byte[] Xq) MakeRaw(GgmlType type, int n, int seed, int rows, int acts, ushort[] halves,
        ushort largestDmin, int lowestQuant)
    {
        var rnd = new Random(seed + (int)type);
        int rb = (int)GgmlTypes.RowBytes(type, n), ab = (int)GgmlTypes.RowBytes(GgmlType.Q8_K, n);
        int size = type == GgmlType.Q4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ6_K);
        var wq = new byte[rows * rb];
        rnd.NextBytes(wq);
        for (int r = 0; r < rows; r++)
            for (int b = 0; b < n / 256; b++)
            {
                var block = wq.AsSpan(r * rb + b * size, size);
                // Q4_K: d, dmin at 0, scales at 4, qs at 16. Q6_K: ql at 0, qh at 128, scales at 192, d at 208.
                Span<byte> quants = type == GgmlType.Q4_K ? block[16..] : block[..192];
                Span<byte> scales = type == GgmlType.Q4_K ? block[4..16] : block[192..208];
                if (r % 4 == 1) quants.Fill(0xff);
                if (r % 4 == 2)
                    for (int i = 0; i < scales.Length; i++) scales[i] = type == GgmlType.Q4_K ? (byte)0xff : i % 2 == 0 ? (byte)0x80 : (byte)0x7f;
                ushort d = r % 4 == 3 ? (ushort)0x7bff : halves[(r + b) % halves.Length];
                ushort dmin = r % 4 == 3 ? largestDmin : halves[(r + 3 * b + 1) % halves.Length];
                if (type == GgmlType.Q4_K)
                {
                    BitConverter.TryWriteBytes(block[0..2], d);
                    BitConverter.TryWriteBytes(block[2..4], dmin);
                }
                else BitConverter.TryWriteBytes(block[208..210], d);
            }
        var xq = new byte[acts * ab];
        fixed (byte* p = xq)
            for (int t = 0; t < acts; t++)
                for (int b = 0; b < n / 256; b++)
                {
                    var blk = (BlockQ8_K*)(p + t * ab) + b;
                    blk->D = (float)(rnd.NextDouble() * 2 - 1) * (t == 3 ? 1e-30f : 0.05f);
                    for (int i = 0; i < 256; i++) blk->Qs[i] = (sbyte)(t == 1 ? 127 : t == 2 ? -128 : rnd.Next(lowestQuant, 128));
                    for (int g = 0; g < 16; g++)
                    {
                        int s = 0;
                        for (int i = 0; i < 16; i++) s += blk->Qs[16 * g + i];
                        blk->Bsums[g] = (short)s;
                    }
                }
        return (wq, xq);
    }
}
