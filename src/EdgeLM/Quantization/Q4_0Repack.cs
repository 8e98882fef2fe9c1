// Q4_0 weights repacked once at load into groups of sixteen rows, and the decode product (every weight
// row against ONE Q8_0 activation row) over them at 512 bits with AVX-512 BW (at 256 bits with AVX2 + FMA:
// Q4_0Repack256.cs): llama.cpp's idea of repacking Q4_0 into interleaved rows at load (its block_q4_0x4 /
// block_q4_0x8 layouts in ggml-cpu's repack), here with sixteen rows and the rows-in-lanes
// arithmetic of Block32GemmLanes (see its header).
//
// Why at load: the prompt tile (Block32GemmLanes) unpacks and transposes each row tile per call and
// amortizes that over many activations; a decode product has one activation, so the transpose would cost
// more than the products. Built once, the layout turns the decode into 4 aligned loads, 8 vpmaddubsw and
// one vpmaddwd per block for sixteen rows, instead of a horizontal reduction per row.
//
// Layout (per group of 16 rows, the last group padded by repeating the last row; groups one after the
// other, each GroupBytes(nb) long for nb = n / 32 blocks, all 64-byte aligned), per pair of blocks:
//   bytes    0..63   the 16 rows' fp16 scales of the first block (lane r = row r), then of the second
//   bytes   64..319  the first block: 4 vectors of 64 bytes, vector k lane r = bytes 4k..4k+3 of row r's
//                    16 quant bytes, so v & 0x0F is chunk k (elements 4k..4k+3) and (v >> 4) & 0x0F chunk
//                    k + 4 (elements 16 + 4k..), i.e. Block32GemmLanes.Transpose of the packed bytes
//   bytes 320..575   the second block likewise (an odd last block ends its group at 320 bytes).
// The same 288 bytes per 16 rows and block as the file (plus padding), so the product reads no more than
// the mapped path. The decode is bound by memory bandwidth from DRAM (where a model's weights stream from
// on every token): scales widened to floats at load (64 bytes per block, 11% more) measured 1.2x slower
// there, though 1.35x faster from cache. The fp16 scales are widened by a sign-extending load, a shift, a
// mask and a multiply by 2^112 (exact for every finite fp16; a matrix with an infinite or NaN scale is
// not repacked, see DecodeRepack.Create).
//
// Exact for Block32GemmLanes.ReferenceDot's order: per block the integer dot is summed exactly (int16 sums
// of the eight chunks cannot overflow: 8 * 2 * 15 * 128 = 30720 < 32768; then one vpmaddwd by ones, less
// 8 * sum(y)), then acc = fma((float)sumi, dw * dy, acc), block after block; so every output equals
// ReferenceDot bit for bit. Not the prompt path (several activations: Block32GemmLanes), not for other
// types. With AVX2 + FMA but not AVX-512 BW, Q4_0Repack256.cs runs the same product at 256 bits; without
// those, Supported is false and nothing is repacked.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe partial class Q4_0Repack
{
    /// <summary>Rows per group: one row per int32 lane of a 512-bit register.</summary>
    public const int GroupRows = DecodeRepack.GroupRows;
    /// <summary>Bytes of a pair of blocks of one group: 2 x 16 fp16 scales, then 2 x 4 x 64 quant bytes.</summary>
    const int PairBytes = 576, ScaleBytes = 64, BlockQuantBytes = 256;
    const int QK = 32, WB = 18, YB = 34; // block size, sizeof(BlockQ4_0), sizeof(BlockQ8_0)

    // Per thread, grown once and reused: the prepared activation (per block dy as float bits, 8 * sum(y)).
    [ThreadStatic] static int[]? t_prepared;

    public static bool Supported => Avx512BW.IsSupported || (Avx2.IsSupported && Fma.IsSupported);

    /// <summary>Bytes of one group of nb blocks: whole pairs, and an odd last block with its scales.</summary>
    public static long GroupBytes(int nb) => (long)(nb / 2) * PairBytes + (nb % 2) * (ScaleBytes + BlockQuantBytes);

    /// <summary>Bytes of the repacked matrix (rows x n elements).</summary>
    public static long Size(int rows, int n) => DecodeRepack.Groups(rows) * GroupBytes(n / QK);


    /// <summary>Writes the layout (see the header) of rows x n Q4_0 weights into dst (Size(rows, n) bytes,
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
                        // Block32GemmLanes.Transpose's result, written dword by dword (once, at load; it also
                        // serves CPUs without AVX-512): vector j, lane r = row r's quant dword j.
                        uint* q = (uint*)(dst + ScaleBytes + BlockQuantBytes * k) + r;
                        uint* src = (uint*)(block + 2);
                        q[0] = src[0]; q[16] = src[1]; q[32] = src[2]; q[48] = src[3];
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
            for (int j = 0; j < 4; j++) Unsafe.WriteUnaligned(block + 2 + 4 * j, lane[16 * j]);
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
        var buf = t_prepared is { } s && s.Length >= 2 * nb ? s : (t_prepared = GC.AllocateUninitializedArray<int>(Math.Max(2 * nb, 64), pinned: true));
        fixed (int* p = buf)
        {
            Block32GemmLanes.PrepareActivations<Q4_0Lanes>(x, 0, 1, nb, p); // per block: dy, 8 * sum(y)
            long groupBytes = GroupBytes(nb);
            // One group at a time, so the weights are read as one sequential stream: two groups per pass
            // (sharing the activation's broadcasts) read two streams a group apart and measured at half the
            // bandwidth from memory (15 vs 33 GB/s on a 151936 x 896 matrix), for no gain from cache.
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
        var s = Half(Vector512.Load(u), Vector512.Load(u + 64), Vector512.Load(u + 128), Vector512.Load(u + 192), m, a);
        var i = Avx512BW.MultiplyAddAdjacent(s, Vector512<short>.One) - Vector512.Create(p[1]);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i), dw * Vector512.Create(*(float*)p), acc);
    }

    /// <summary>The eight chunks' int16 sums of one group's block against the activation block's quants a.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Half(Vector512<byte> v0, Vector512<byte> v1, Vector512<byte> v2, Vector512<byte> v3, Vector512<byte> m, byte* a) =>
        Sum8(v0, v1, v2, v3, m,
            Vector512.Create(*(int*)a).AsSByte(), Vector512.Create(*(int*)(a + 4)).AsSByte(),
            Vector512.Create(*(int*)(a + 8)).AsSByte(), Vector512.Create(*(int*)(a + 12)).AsSByte(),
            Vector512.Create(*(int*)(a + 16)).AsSByte(), Vector512.Create(*(int*)(a + 20)).AsSByte(),
            Vector512.Create(*(int*)(a + 24)).AsSByte(), Vector512.Create(*(int*)(a + 28)).AsSByte());

    /// <summary>Chunk k (low nibbles of v_k) against y_k and chunk k + 4 (high nibbles) against y_{k+4}, summed as int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Sum8(Vector512<byte> v0, Vector512<byte> v1, Vector512<byte> v2, Vector512<byte> v3, Vector512<byte> m,
        Vector512<sbyte> y0, Vector512<sbyte> y1, Vector512<sbyte> y2, Vector512<sbyte> y3,
        Vector512<sbyte> y4, Vector512<sbyte> y5, Vector512<sbyte> y6, Vector512<sbyte> y7)
    {
        var lo = Avx512BW.MultiplyAddAdjacent(v0 & m, y0) + Avx512BW.MultiplyAddAdjacent(v1 & m, y1)
            + Avx512BW.MultiplyAddAdjacent(v2 & m, y2) + Avx512BW.MultiplyAddAdjacent(v3 & m, y3);
        var hi = Avx512BW.MultiplyAddAdjacent(High(v0, m), y4) + Avx512BW.MultiplyAddAdjacent(High(v1, m), y5)
            + Avx512BW.MultiplyAddAdjacent(High(v2, m), y6) + Avx512BW.MultiplyAddAdjacent(High(v3, m), y7);
        return lo + hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> High(Vector512<byte> v, Vector512<byte> m) => Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & m;
}
