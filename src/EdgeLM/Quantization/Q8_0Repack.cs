// Q8_0 weights repacked once at load into groups of sixteen rows, and the decode product (every weight
// row against ONE Q8_0 activation row) over them at 512 bits with AVX-512 BW (at 256 bits with AVX2 + FMA:
// Q8_0Repack256.cs). The idea and the group layout are Q4_0Repack's (see its header): rows in int32 lanes,
// so a block is a few aligned loads and vpmaddubsw against 4-byte activation broadcasts for sixteen rows,
// with no horizontal reduction.
//
// Signed x signed int8 without VNNI: vpmaddubsw multiplies unsigned by signed bytes. The weights are
// stored biased, u = w + 128 (0..255, the quant byte with its top bit flipped, free at load), and the
// ACTIVATION is split once per product into two signed planes, y = 16 yh + yl with yl in -8..7 and yh in
// -8..8 (y = 127 is 16 * 8 - 1). Each chunk then costs two vpmaddubsw (u against yh, u against yl) and
// no per-lane bit work on the weights: a pair's sum is at most 2 * 255 * 8 = 4080, eight chunks' int16
// sum at most 32640 < 32768, so each plane sums the whole block as int16; one vpmaddwd each (by 16 and
// by 1) widens to int32, less 128 * sum(y) (prepared once): the block's exact integer dot. The two
// alternatives, on the same layout, were measured 1.4x slower from cache (0.093 vs 0.067 ms for
// 896 x 4864 and 4864 x 896, one thread) and equal from memory (a 151936 x 896 head, ~5.4 ms each):
// llama.cpp's sign trick (|w| against y signed by w: an abs, a sign mask and a blend per chunk, and a
// vpmaddwd per chunk since two chunks' int16 sums can overflow) and nibble planes of u (u = 16 h + l: a
// shift and two masks per chunk against the plain activation).
//
// Layout (per group of 16 rows, the last group padded by repeating the last row; groups one after the
// other, each GroupBytes(nb) long, all 64-byte aligned), per pair of blocks:
//   bytes    0..63    the 16 rows' fp16 scales of the first block (lane r = row r), then of the second
//   bytes   64..575   the first block: 8 vectors of 64 bytes, vector k lane r = bytes 4k..4k+3 of row r's
//                     32 quants, each XOR 0x80 (Block32GemmLanes.Transpose's result of the biased bytes)
//   bytes  576..1087  the second block likewise (an odd last block ends its group at 576 bytes).
// The same 544 bytes per 16 rows and block as the file (plus padding). fp16 scales are kept (Q4_0Repack
// measured float scales slower from memory) and widened exactly as there; a matrix with an infinite or
// NaN scale is not repacked (DecodeRepack.Create returns null).
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
internal static unsafe partial class Q8_0Repack
{
    /// <summary>Rows per group: one row per int32 lane of a 512-bit register.</summary>
    public const int GroupRows = DecodeRepack.GroupRows;
    /// <summary>Bytes of a pair of blocks of one group: 2 x 16 fp16 scales, then 2 x 8 x 64 quant bytes.</summary>
    const int PairBytes = 1088, ScaleBytes = 64, BlockQuantBytes = 512;
    const int QK = 32, WB = 34, PlaneBytes = 64; // block size, sizeof(BlockQ8_0), yh and yl of one block

    // Per thread, grown once and reused: the prepared activation, per block 64 bytes of planes (yh then
    // yl) followed, after all planes, by per block dy as float bits and 128 * sum(y).
    [ThreadStatic] static byte[]? t_prepared;

    public static bool Supported => Avx512BW.IsSupported || (Avx2.IsSupported && Fma.IsSupported);

    /// <summary>Bytes of one group of nb blocks: whole pairs, and an odd last block with its scales.</summary>
    public static long GroupBytes(int nb) => (long)(nb / 2) * PairBytes + (nb % 2) * (ScaleBytes + BlockQuantBytes);

    /// <summary>Bytes of the repacked matrix (rows x n elements).</summary>
    public static long Size(int rows, int n) => DecodeRepack.Groups(rows) * GroupBytes(n / QK);


    /// <summary>Writes the layout (see the header) of rows x n Q8_0 weights into dst (Size(rows, n) bytes,
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
                    byte* q = dst + ScaleBytes + BlockQuantBytes * k;
                    for (int r = 0; r < GroupRows; r++)
                    {
                        byte* block = w + Math.Min(g * GroupRows + r, rows - 1) * rb + (long)(b + k) * WB;
                        d[r] = *(ushort*)block;
                        if ((d[r] & special) == special) return false;
                    }
                    PackQuants(w + (long)g * GroupRows * rb + (long)(b + k) * WB + 2, rb, rows - g * GroupRows, q);
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
            for (int j = 0; j < 8; j++) Unsafe.WriteUnaligned(block + 2 + 4 * j, lane[16 * j] ^ 0x80808080u);
        }
    }

    /// <summary>One block of a group: 16 rows' 32 quants (row r at src + r * rb; rows from `valid` on repeat
    /// the last) into 8 vectors of 64 bytes, vector j lane r = row r's quant dword j, biased by 128 (top
    /// bits flipped). A full group with AVX-512 goes through Block32GemmLanes.Transpose (about 2x faster
    /// at load than the dword loop, which serves the padded group and AVX2 CPUs).</summary>
    static void PackQuants(byte* src, long rb, int valid, byte* q)
    {
        if (valid >= GroupRows && Avx512F.IsSupported && rb <= int.MaxValue)
        {
            Block32GemmLanes.Transpose(src, (int)rb, q);
            for (int j = 0; j < 8; j++) (Vector512.Load(q + 64 * j) ^ Vector512.Create((byte)0x80)).Store(q + 64 * j);
            return;
        }
        for (int r = 0; r < GroupRows; r++)
        {
            uint* s = (uint*)(src + Math.Min(r, valid - 1) * rb);
            for (int j = 0; j < 8; j++) ((uint*)q)[16 * j + r] = s[j] ^ 0x80808080u;
        }
    }

    /// <summary>y[r - start] = dot(W[r], x) for r in [start, end) at a given width (Vector512 or Vector256), W
    /// repacked by <see cref="Pack"/> from a matrix of n columns, x one Q8_0 row of n elements; with carry, each
    /// dot continues from the value in y (DecodeRepack's column panels: the same operations in the same order
    /// as one product over the whole row). Outputs outside [start, end) are not touched.</summary>
    internal static void Rows(byte* packed, int n, int start, int end, byte* x, float* y, SimdLevel level, bool carry)
    {
        if (start >= end) return;
        int nb = n / QK;
        int need = (PlaneBytes + 8) * nb + 64;
        var buf = t_prepared is { } s && s.Length >= need ? s : (t_prepared = GC.AllocateUninitializedArray<byte>(Math.Max(need, 4096), pinned: true));
        fixed (byte* pb = buf)
        {
            byte* a = (byte*)(((nint)pb + 63) & ~(nint)63); // planes, 64-byte aligned
            int* p = (int*)(a + PlaneBytes * nb);
            Prepare(x, nb, a, p);
            long groupBytes = GroupBytes(nb);
            // One group at a time: the weights are read as one sequential stream (see Q4_0Repack.Rows).
            int g0 = start / GroupRows, gEnd = (end + GroupRows - 1) / GroupRows;
            if (level == SimdLevel.Vector512)
            {
                for (int g = g0; g < gEnd; g++)
                    DecodeRepack.Store(One(packed + g * groupBytes, nb, a, p, carry ? DecodeRepack.Load(g * GroupRows, start, end, y) : default), g * GroupRows, start, end, y);
                return;
            }
            for (int g = g0; g < gEnd; g++)
            {
                var (lo, hi) = One256(packed + g * groupBytes, nb, a, p,
                    carry ? DecodeRepack.Load256(g * GroupRows, start, end, y) : default,
                    carry ? DecodeRepack.Load256(g * GroupRows + 8, start, end, y) : default);
                DecodeRepack.Store256(lo, g * GroupRows, start, end, y);
                DecodeRepack.Store256(hi, g * GroupRows + 8, start, end, y);
            }
        }
    }

    /// <summary>The activation's planes (per block: yh[32] then yl[32], y = 16 yh + yl, yl in -8..7) and per
    /// block dy and 128 * sum(y) (Block32GemmLanes.PrepareActivations with Q8_0's offset).</summary>
    static void Prepare(byte* x, int nb, byte* a, int* p)
    {
        Block32GemmLanes.PrepareActivations<Q8_0Lanes>(x, 0, 1, nb, p);
        for (int b = 0; b < nb; b++, x += WB, a += PlaneBytes)
        {
            // In int16 lanes, where y - yl = 128 (y = 127) does not wrap.
            var (y0, y1) = Vector256.Widen(Vector256.Load((sbyte*)(x + 2)));
            Vector256<short> eight = Vector256.Create((short)8), fifteen = Vector256.Create((short)15);
            var l0 = ((y0 + eight) & fifteen) - eight;
            var l1 = ((y1 + eight) & fifteen) - eight;
            Vector256.Narrow(Vector256.ShiftRightArithmetic(y0 - l0, 4), Vector256.ShiftRightArithmetic(y1 - l1, 4)).Store((sbyte*)a);
            Vector256.Narrow(l0, l1).Store((sbyte*)(a + 32));
        }
    }

    /// <summary>One group's sixteen outputs, continuing from acc.</summary>
    static Vector512<float> One(byte* u, int nb, byte* a, int* p, Vector512<float> acc)
    {
        int b = 0;
        for (; b + 1 < nb; b += 2, u += PairBytes, a += 2 * PlaneBytes, p += 4)
        {
            acc = Block(u + ScaleBytes, DecodeRepack.Scales(u), a, p, acc);
            acc = Block(u + ScaleBytes + BlockQuantBytes, DecodeRepack.Scales(u + 32), a + PlaneBytes, p + 2, acc);
        }
        if (b < nb) acc = Block(u + ScaleBytes, DecodeRepack.Scales(u), a, p, acc);
        return acc;
    }

    /// <summary>acc + (the block's exact integer dots) * (dw * dy), per lane: Block32GemmLanes.ReferenceDot's step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Block(byte* u, Vector512<float> dw, byte* a, int* p, Vector512<float> acc)
    {
        Vector512<byte> v0 = Vector512.Load(u), v1 = Vector512.Load(u + 64), v2 = Vector512.Load(u + 128), v3 = Vector512.Load(u + 192),
            v4 = Vector512.Load(u + 256), v5 = Vector512.Load(u + 320), v6 = Vector512.Load(u + 384), v7 = Vector512.Load(u + 448);
        var h = Plane(v0, v1, v2, v3, v4, v5, v6, v7, a);
        var l = Plane(v0, v1, v2, v3, v4, v5, v6, v7, a + 32);
        var i = Avx512BW.MultiplyAddAdjacent(h, Vector512.Create((short)16)) + Avx512BW.MultiplyAddAdjacent(l, Vector512<short>.One)
            - Vector512.Create(p[1]);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i), dw * Vector512.Create(*(float*)p), acc);
    }

    /// <summary>The eight chunks of a block against one activation plane (32 signed bytes at a), as int16 sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Plane(Vector512<byte> v0, Vector512<byte> v1, Vector512<byte> v2, Vector512<byte> v3,
        Vector512<byte> v4, Vector512<byte> v5, Vector512<byte> v6, Vector512<byte> v7, byte* a) =>
        Avx512BW.MultiplyAddAdjacent(v0, Y(a)) + Avx512BW.MultiplyAddAdjacent(v1, Y(a + 4))
        + Avx512BW.MultiplyAddAdjacent(v2, Y(a + 8)) + Avx512BW.MultiplyAddAdjacent(v3, Y(a + 12))
        + (Avx512BW.MultiplyAddAdjacent(v4, Y(a + 16)) + Avx512BW.MultiplyAddAdjacent(v5, Y(a + 20))
        + Avx512BW.MultiplyAddAdjacent(v6, Y(a + 24)) + Avx512BW.MultiplyAddAdjacent(v7, Y(a + 28)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<sbyte> Y(byte* a) => Vector512.Create(*(int*)a).AsSByte();
}
