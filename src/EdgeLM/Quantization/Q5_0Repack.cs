// Q5_0 weights repacked once at load into groups of sixteen rows, and the decode product (every weight
// row against ONE Q8_0 activation row) over them at 512 bits with AVX-512 BW (at 256 bits with AVX2 + FMA:
// Q5_0Repack256.cs). The idea and the group layout are Q4_0Repack's (see its header): rows in int32 lanes,
// so a block is a few aligned loads and vpmaddubsw against 4-byte activation broadcasts for sixteen rows,
// with no horizontal reduction.
//
// The fifth bits are rearranged at load so that decode only shifts and selects: a block's 32-bit mask
// qh (bit i = element i's fifth bit) becomes one dword per row, whose byte j bit c is the fifth bit of
// element 4c + j, i.e. of byte j of chunk c (chunks 0..3 are the low nibbles of the four quant vectors,
// elements 4c..4c+3, chunks 4..7 their high nibbles, elements 16 + 4(c - 4).. = 4c..). Shifting that
// dword's 16-bit halves left by 4 - c (or right by c - 4) brings bit c of every byte to bit 4 of the same
// byte, so u = q | qh << 4 (0..31, the weight plus 16) is one shift, one AND (the shifted word's other
// bits belong to other chunks) and one bitwise select (vpternlogd) per chunk besides the nibble's shift. Pair sums of u * y are at most 2 * 31 * 128 = 7936, four
// chunks' int16 sum 31744 < 32768: two vpmaddwd per block (low and high chunks), less 16 * sum(y)
// (prepared once), give the block's exact integer dot.
//
// Layout (per group of 16 rows, the last group padded by repeating the last row; groups one after the
// other, each GroupBytes(nb) long, all 64-byte aligned), per pair of blocks:
//   bytes    0..63    the 16 rows' fp16 scales of the first block (lane r = row r), then of the second
//   bytes   64..319   the first block's nibbles: 4 vectors of 64 bytes, vector k lane r = bytes 4k..4k+3
//                     of row r's 16 quant bytes (as Q4_0Repack)
//   bytes  320..383   its fifth bits: lane r = row r's rearranged qh (above)
//   bytes  384..703   the second block likewise (an odd last block ends its group at 384 bytes).
// The same 352 bytes per 16 rows and block as the file (plus padding), fp16 scales widened exactly as in
// Q4_0Repack; a matrix with an infinite or NaN scale is not repacked (DecodeRepack.Create returns null).
//
// Exact for Block32GemmLanes.ReferenceDot's order: per block the exact integer dot, then
// acc = fma((float)sumi, dw * dy, acc) block after block, so every output equals ReferenceDot bit for
// bit. Not the prompt path (several activations: Block32GemmLanes), not for other types; without
// AVX-512 BW or AVX2 + FMA, Supported is false and nothing is repacked.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe partial class Q5_0Repack
{
    /// <summary>Rows per group: one row per int32 lane of a 512-bit register.</summary>
    public const int GroupRows = DecodeRepack.GroupRows;
    /// <summary>Bytes of a pair of blocks of one group: 2 x 16 fp16 scales, then 2 x (4 x 64 nibble bytes + 64 fifth-bit bytes).</summary>
    const int PairBytes = 704, ScaleBytes = 64, BlockQuantBytes = 320, HighOffset = 256;
    const int QK = 32, WB = 22, YB = 34; // block size, sizeof(BlockQ5_0), sizeof(BlockQ8_0)

    // Per thread, grown once and reused: the prepared activation (per block dy as float bits, 16 * sum(y)).
    [ThreadStatic] static int[]? t_prepared;

    public static bool Supported => Avx512BW.IsSupported || (Avx2.IsSupported && Fma.IsSupported);

    /// <summary>Bytes of one group of nb blocks: whole pairs, and an odd last block with its scales.</summary>
    public static long GroupBytes(int nb) => (long)(nb / 2) * PairBytes + (nb % 2) * (ScaleBytes + BlockQuantBytes);

    /// <summary>Bytes of the repacked matrix (rows x n elements).</summary>
    public static long Size(int rows, int n) => DecodeRepack.Groups(rows) * GroupBytes(n / QK);


    /// <summary>Writes the layout (see the header) of rows x n Q5_0 weights into dst (Size(rows, n) bytes,
    /// 64-byte aligned); false (dst then partly written) if a scale is infinite or NaN.</summary>
    public static bool Pack(byte* w, long rb, int rows, int n, byte* dst)
    {
        int nb = n / QK;
        ushort special = 0x7C00; // an fp16 exponent of all ones: infinity or NaN
        for (int g = 0; g < DecodeRepack.Groups(rows); g++)
            for (int b = 0; b < nb; b += 2)
            {
                for (int k = 0; k < 2 && b + k < nb; k++)
                {
                    ushort* d = (ushort*)dst + GroupRows * k;
                    for (int r = 0; r < GroupRows; r++)
                    {
                        byte* block = w + Math.Min(g * GroupRows + r, rows - 1) * rb + (long)(b + k) * WB;
                        d[r] = *(ushort*)block;
                        if ((d[r] & special) == special) return false;
                        // Vector j, lane r = row r's quant dword j; then the rearranged fifth bits.
                        uint* q = (uint*)(dst + ScaleBytes + BlockQuantBytes * k) + r;
                        uint* src = (uint*)(block + 6);
                        q[0] = src[0]; q[16] = src[1]; q[32] = src[2]; q[48] = src[3];
                        q[64] = HighBits(*(uint*)(block + 2));
                    }
                }
                dst += b + 1 < nb ? PairBytes : ScaleBytes + BlockQuantBytes; // an odd last block ends the group
            }
        return true;
    }

    /// <summary>Lanes [0, count) of one group (at group, nb blocks) back in the file's layout, lane r as the row at
    /// dst + r * rb: Pack's inverse, byte for byte (DecodeRepack.UnpackRows: prompts read rows).</summary>
    public static void Unpack(byte* group, int nb, int count, byte* dst, long rb) =>
        DecodeRepack.UnpackPairs<Quants>(group, nb, count, dst, rb, WB, BlockQuantBytes);

    /// <summary>A block's quants: Pack's dword moves reversed.</summary>
    readonly struct Quants : IBlockQuants
    {
        public static void Unpack(uint* lane, byte* block)
        {
            Unsafe.WriteUnaligned(block + 2, FifthBits(lane[64]));
            for (int j = 0; j < 4; j++) Unsafe.WriteUnaligned(block + 6 + 4 * j, lane[16 * j]);
        }
    }

    /// <summary>qh (bit i = element i's fifth bit) as the dword whose byte j bit c is element 4c + j's.</summary>
    internal static uint HighBits(uint qh)
    {
        // Byte j gathers bits j, j + 4, ..., j + 28: one pext each where BMI2 has it (packing 2.4x faster).
        if (Bmi2.IsSupported)
            return Bmi2.ParallelBitExtract(qh, 0x11111111u) | Bmi2.ParallelBitExtract(qh, 0x22222222u) << 8
                | Bmi2.ParallelBitExtract(qh, 0x44444444u) << 16 | Bmi2.ParallelBitExtract(qh, 0x88888888u) << 24;
        uint h = 0;
        for (int c = 0; c < 8; c++)
            for (int j = 0; j < 4; j++)
                h |= ((qh >> (4 * c + j)) & 1) << (8 * j + c);
        return h;
    }

    /// <summary>HighBits' inverse: byte j bit c of h back to bit 4c + j of qh.</summary>
    internal static uint FifthBits(uint h)
    {
        if (Bmi2.IsSupported)
            return Bmi2.ParallelBitDeposit(h & 0xFF, 0x11111111u) | Bmi2.ParallelBitDeposit((h >> 8) & 0xFF, 0x22222222u)
                | Bmi2.ParallelBitDeposit((h >> 16) & 0xFF, 0x44444444u) | Bmi2.ParallelBitDeposit(h >> 24, 0x88888888u);
        uint qh = 0;
        for (int c = 0; c < 8; c++)
            for (int j = 0; j < 4; j++)
                qh |= ((h >> (8 * j + c)) & 1) << (4 * c + j);
        return qh;
    }

    /// <summary>y[r - start] = dot(W[r], x) for r in [start, end) at a given width (Vector512 or Vector256), W
    /// repacked by <see cref="Pack"/> from a matrix of n columns, x one Q8_0 row of n elements; with carry, each
    /// dot continues from the value in y (DecodeRepack's column panels: the same operations in the same order
    /// as one product over the whole row). Outputs outside [start, end) are not touched.</summary>
    internal static void Rows(byte* packed, int n, int start, int end, byte* x, float* y, SimdLevel level, bool carry)
    {
        if (start >= end) return;
        int nb = n / QK;
        var buf = t_prepared is { } s && s.Length >= 2 * nb ? s : (t_prepared = GC.AllocateUninitializedArray<int>(Math.Max(2 * nb, 64), pinned: true));
        fixed (int* p = buf)
        {
            Block32GemmLanes.PrepareActivations<Q5_0Lanes>(x, 0, 1, nb, p); // per block: dy, 16 * sum(y)
            long groupBytes = GroupBytes(nb);
            // One group at a time: the weights are read as one sequential stream (see Q4_0Repack.Rows).
            int g0 = start / GroupRows, gEnd = (end + GroupRows - 1) / GroupRows;
            if (level == SimdLevel.Vector512)
            {
                for (int g = g0; g < gEnd; g++)
                    DecodeRepack.Store(One(packed + g * groupBytes, nb, x + 2, p, carry ? DecodeRepack.Load(g * GroupRows, start, end, y) : default), g * GroupRows, start, end, y);
                return;
            }
            for (int g = g0; g < gEnd; g++)
            {
                var (lo, hi) = One256(packed + g * groupBytes, nb, x + 2, p,
                    carry ? DecodeRepack.Load256(g * GroupRows, start, end, y) : default,
                    carry ? DecodeRepack.Load256(g * GroupRows + 8, start, end, y) : default);
                DecodeRepack.Store256(lo, g * GroupRows, start, end, y);
                DecodeRepack.Store256(hi, g * GroupRows + 8, start, end, y);
            }
        }
    }

    /// <summary>One group's sixteen outputs, continuing from acc.</summary>
    static Vector512<float> One(byte* u, int nb, byte* a, int* p, Vector512<float> acc)
    {
        int b = 0;
        for (; b + 1 < nb; b += 2, u += PairBytes, a += 2 * YB, p += 4)
        {
            acc = Block(u + ScaleBytes, DecodeRepack.Scales(u), a, p, acc);
            acc = Block(u + ScaleBytes + BlockQuantBytes, DecodeRepack.Scales(u + 32), a + YB, p + 2, acc);
        }
        if (b < nb) acc = Block(u + ScaleBytes, DecodeRepack.Scales(u), a, p, acc);
        return acc;
    }

    /// <summary>acc + (the block's exact integer dots) * (dw * dy), per lane: Block32GemmLanes.ReferenceDot's step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Block(byte* u, Vector512<float> dw, byte* a, int* p, Vector512<float> acc)
    {
        var m = Vector512.Create((byte)0x0F);
        Vector512<byte> v0 = Vector512.Load(u), v1 = Vector512.Load(u + 64), v2 = Vector512.Load(u + 128), v3 = Vector512.Load(u + 192);
        var h = Vector512.Load(u + HighOffset).AsUInt16();
        var lo = Avx512BW.MultiplyAddAdjacent(U(v0, h << 4, m), Y(a)) + Avx512BW.MultiplyAddAdjacent(U(v1, h << 3, m), Y(a + 4))
            + Avx512BW.MultiplyAddAdjacent(U(v2, h << 2, m), Y(a + 8)) + Avx512BW.MultiplyAddAdjacent(U(v3, h << 1, m), Y(a + 12));
        var hi = Avx512BW.MultiplyAddAdjacent(U(High(v0), h, m), Y(a + 16)) + Avx512BW.MultiplyAddAdjacent(U(High(v1), h >> 1, m), Y(a + 20))
            + Avx512BW.MultiplyAddAdjacent(U(High(v2), h >> 2, m), Y(a + 24)) + Avx512BW.MultiplyAddAdjacent(U(High(v3), h >> 3, m), Y(a + 28));
        var i = Avx512BW.MultiplyAddAdjacent(lo, Vector512<short>.One) + Avx512BW.MultiplyAddAdjacent(hi, Vector512<short>.One)
            - Vector512.Create(p[1]);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i), dw * Vector512.Create(*(float*)p), acc);
    }

    /// <summary>u = q | fifth bit << 4 per byte: the low nibble of v, and bit 4 of the shifted fifth bits h (its
    /// other bits belong to other chunks or bytes: one AND and one bitwise select, a vpternlogd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> U(Vector512<byte> v, Vector512<ushort> h, Vector512<byte> m) =>
        Vector512.ConditionalSelect(m, v, h.AsByte() & Vector512.Create((byte)0x10));

    /// <summary>The high nibbles moved down (bits 4..7 of each byte then hold other bits, masked by the select).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> High(Vector512<byte> v) => Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<sbyte> Y(byte* a) => Vector512.Create(*(int*)a).AsSByte();
}
