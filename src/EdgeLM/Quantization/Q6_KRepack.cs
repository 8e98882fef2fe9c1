// Q6_K weights repacked once at load into groups of sixteen rows, and the decode product (every weight
// row against ONE Q8_K activation row) over them at 512 bits with AVX-512 BW (at 256 bits with AVX2 + FMA:
// Q6_KRepack256.cs): Q4_0Repack's idea (read its header first) for the 256-element super-blocks, with
// KQuantLanes' integer arithmetic (read its header).
//
// Layout (per group of 16 rows, the last group padded by repeating the last row; groups one after the
// other, each GroupBytes(nb) long for nb = n / 256 super-blocks, all 64-byte aligned): the nb x 16 fp16 d
// (32 bytes per super-block, padded to 64 bytes), then nb super-blocks of 3328 bytes: the file's 16 x 210
// bytes per super-block (still 6 bits per weight), so a token reads no more than the mapped path does.
// The d come first so that a group is one sequential run: after the super-blocks, each group's d lines
// were a second stream read ahead of the first and missed in every group (the 128256 x 2048 output head
// from memory, one thread, huge pages: 28.4 GB/s, 0.91 of a plain read; 32.5, 1.03, with d first).
// A super-block:
//   bytes    0..255   4 vectors, vector v lane r = row r's int8 scales 4v..4v+3
//   bytes  256..3327  for half h = 0, 1 and chunk j = 0..7, three vectors at 256 + 1536 h + 192 j holding
//                     the 6-bit values u of chunk j (elements 4j..4j+3) of columns 4h..4h+3 (32 elements
//                     each; KQuantLanes.Unpack6 says which ql and qh bits make them): lane r of vector k
//                     (k = 0, 1, 2) = row r's u of column 4h + k in bits 0..5 of each byte, and bits 2k,
//                     2k + 1 of its u of column 4h + 3 in bits 6, 7.
// The same 6 bits per weight as the file, rearranged at load so that a token's unpacking is a mask per
// column and three shifts and masks for the fourth (from ql and qh as stored it took 13 operations per
// chunk: 29 GB/s on a cached 2048 x 8192 matrix against 37 now, and below memory speed on the output head).
// d is widened by DecodeRepack.Scales' exact trick; a matrix with an infinite or NaN d is not repacked
// (DecodeRepack.Create returns null).
//
// Per super-block: the 6-bit values u (0..63) against the activation by vpmaddubsw, two chunks per int16
// sum (2 * 2 * 63 * 128 = 32256 < 32768), each widened by one vpmaddwd with its group's pair (sc, sc); the
// offset 32 * sum_g sc_g * bsum_g from the scales as int16 pairs (sc_g, sc_g+2) against the activation's
// (bsum_g, bsum_g+2), prepared once per product. Then acc = fma((float)(isum - 32 * offset), d * dy, acc):
// the order of KQuantLanes.ReferenceDot, so every output equals it bit for bit. Not the prompt path
// (several activations: KQuantLanes). Without AVX-512 BW nor AVX2 + FMA, Supported is false and nothing is
// repacked. Spec: ggml-quants.c block_q6_K, block_q8_K.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe partial class Q6_KRepack
{
    /// <summary>Rows per group: one row per int32 lane of a 512-bit register.</summary>
    public const int GroupRows = DecodeRepack.GroupRows;
    const int QK = 256, WB = 210, YB = 292; // super-block size, sizeof(BlockQ6_K), sizeof(BlockQ8_K)
    const int BlockBytes = 3328, QuantsAt = 256, HalfBytes = 1536, YQs = 4; // per super-block of a group

    // Per thread, grown once and reused: the activation's bsum pairs (8 dwords per super-block).
    [ThreadStatic] static int[]? t_prepared;

    // vpshufb controls: in each dword, its int16 half 0 (or 1) copied into both halves.
    static readonly Vector512<byte> Pick0 = PickWord(0), Pick1 = PickWord(1);

    public static bool Supported => Avx512BW.IsSupported || (Avx2.IsSupported && Fma.IsSupported);

    /// <summary>Bytes of one group of nb super-blocks: the super-blocks, then their d padded to 64 bytes.</summary>
    public static long GroupBytes(int nb) => (long)nb * BlockBytes + DBytes(nb);

    /// <summary>Bytes of a group's d region (nb fp16 per row, padded to 64 bytes), which comes first.</summary>
    internal static long DBytes(int nb) => (32L * nb + 63) / 64 * 64;

    /// <summary>Bytes of the repacked matrix (rows x n elements).</summary>
    public static long Size(int rows, int n) => DecodeRepack.Groups(rows) * GroupBytes(n / QK);


    /// <summary>Writes the layout (see the header) of rows x n Q6_K weights into dst (Size(rows, n) bytes,
    /// 64-byte aligned); false (dst then partly written) if a d is infinite or NaN.</summary>
    public static bool Pack(byte* w, long rb, int rows, int n, byte* dst)
    {
        int nb = n / QK;
        const ushort special = 0x7C00; // an fp16 exponent of all ones: infinity or NaN
        long groupBytes = GroupBytes(nb);
        for (int g = 0; g < DecodeRepack.Groups(rows); g++, dst += groupBytes)
        {
            new Span<byte>(dst, (int)DBytes(nb)).Clear(); // d and its padding
            for (int b = 0; b < nb; b++)
                for (int r = 0; r < GroupRows; r++)
                {
                    var x = (BlockQ6_K*)(w + Math.Min(g * GroupRows + r, rows - 1) * rb + (long)b * WB);
                    if ((x->D & special) == special) return false;
                    ((ushort*)(dst + 32L * b))[r] = x->D;
                    uint* o = (uint*)(dst + DBytes(nb) + (long)b * BlockBytes) + r; // lane r of each vector: 16 dwords apart
                    uint* sc = (uint*)x->Scales;
                    for (int v = 0; v < 4; v++) o[16 * v] = sc[v];
                    uint* ql = (uint*)x->Ql, qh = (uint*)x->Qh;
                    for (int h = 0; h < 2; h++)
                        for (int j = 0; j < 8; j++)
                            Rearrange(ql[16 * h + j], ql[16 * h + 8 + j], qh[8 * h + j], o + (QuantsAt + HalfBytes * h + 192 * j) / 4);
                }
        }
        return true;
    }

    /// <summary>Lanes [0, count) of one group (at group, nb blocks) back in the file's layout, lane r as the row at
    /// dst + r * rb: Pack's inverse, byte for byte (DecodeRepack.UnpackRows: prompts read rows).</summary>
    public static void Unpack(byte* group, int nb, int count, byte* dst, long rb)
    {
        byte* blocks = group + DBytes(nb);
        for (int b = 0; b < nb; b++)
            for (int r = 0; r < count; r++)
            {
                var x = (BlockQ6_K*)(dst + r * rb + (long)b * WB);
                x->D = ((ushort*)(group + 32L * b))[r];
                uint* o = (uint*)(blocks + (long)b * BlockBytes) + r;
                uint* sc = (uint*)x->Scales;
                for (int v = 0; v < 4; v++) Unsafe.WriteUnaligned(sc + v, o[16 * v]);
                byte* ql = x->Ql, qh = x->Qh;
                for (int h = 0; h < 2; h++)
                    for (int j = 0; j < 8; j++)
                    {
                        uint* q = o + (QuantsAt + HalfBytes * h + 192 * j) / 4;
                        var (l0, l1, hi) = Restore(q[0], q[16], q[32]);
                        Unsafe.WriteUnaligned(ql + 4 * (16 * h + j), l0);
                        Unsafe.WriteUnaligned(ql + 4 * (16 * h + 8 + j), l1);
                        Unsafe.WriteUnaligned(qh + 4 * (8 * h + j), hi);
                    }
            }
    }

    /// <summary>Rearrange's inverse: the ql, ql + 32 and qh dwords from a chunk's three vectors' lanes.</summary>
    static (uint L0, uint L1, uint H) Restore(uint q0, uint q1, uint q2)
    {
        const uint Low = 0x0F0F0F0F, Top = 0x30303030, Six = 0x3F3F3F3F;
        uint c0 = q0 & Six, c1 = q1 & Six, c2 = q2 & Six;
        uint c3 = ((q0 >> 6) & 0x03030303) | ((q1 >> 4) & 0x0C0C0C0C) | ((q2 >> 2) & Top);
        uint l0 = (c0 & Low) | ((c2 & Low) << 4), l1 = (c1 & Low) | ((c3 & Low) << 4);
        uint h = ((c0 & Top) >> 4) | ((c1 & Top) >> 2) | (c2 & Top) | ((c3 & Top) << 2);
        return (l0, l1, h);
    }

    /// <summary>One row's chunk of four columns from its ql, ql + 32 and qh dwords (four bytes at once): the
    /// columns' u as KQuantLanes.Unpack6 forms them, then column 3's two-bit pieces moved into bits 6, 7 of
    /// the other three. q[0], q[16], q[32]: the row's lane in the chunk's three vectors.</summary>
    static void Rearrange(uint l0, uint l1, uint h, uint* q)
    {
        const uint Low = 0x0F0F0F0F, Top = 0x30303030, High = 0xC0C0C0C0;
        uint c0 = (l0 & Low) | ((h << 4) & Top), c1 = (l1 & Low) | ((h << 2) & Top);
        uint c2 = ((l0 >> 4) & Low) | (h & Top), c3 = ((l1 >> 4) & Low) | ((h >> 2) & Top);
        q[0] = c0 | ((c3 << 6) & High);
        q[16] = c1 | ((c3 << 4) & High);
        q[32] = c2 | ((c3 << 2) & High);
    }

    /// <summary>y[r - start] = dot(W[r], x) for r in [start, end) at a given width (Vector512 or Vector256), W
    /// repacked by <see cref="Pack"/> from a matrix of n columns, x one Q8_K row of n elements; with carry, each
    /// dot continues from the value in y (DecodeRepack's column panels: the same operations in the same order
    /// as one product over the whole row). Outputs outside [start, end) are not touched.</summary>
    internal static void Rows(byte* packed, int n, int start, int end, byte* x, float* y, SimdLevel level, bool carry)
    {
        if (start >= end) return;
        int nb = n / QK;
        var buf = t_prepared is { } s && s.Length >= 8 * nb ? s : (t_prepared = GC.AllocateUninitializedArray<int>(Math.Max(8 * nb, 64), pinned: true));
        fixed (int* p = buf)
        {
            Prepare(x, nb, p);
            long groupBytes = GroupBytes(nb);
            int g0 = start / GroupRows, gEnd = (end + GroupRows - 1) / GroupRows;
            if (level == SimdLevel.Vector512)
            {
                for (int g = g0; g < gEnd; g++)
                    DecodeRepack.Store(One(packed + g * groupBytes, nb, x, p, carry ? DecodeRepack.Load(g * GroupRows, start, end, y) : default), g * GroupRows, start, end, y);
                return;
            }
            for (int g = g0; g < gEnd; g++)
            {
                var (lo, hi) = One256(packed + g * groupBytes, nb, x, p,
                    carry ? DecodeRepack.Load256(g * GroupRows, start, end, y) : default,
                    carry ? DecodeRepack.Load256(g * GroupRows + 8, start, end, y) : default);
                DecodeRepack.Store256(lo, g * GroupRows, start, end, y);
                DecodeRepack.Store256(hi, g * GroupRows + 8, start, end, y);
            }
        }
    }

    /// <summary>Per super-block the activation's bsums as int16 pairs matching the scales' pairs: for scale
    /// vector v, (bsum_4v, bsum_4v+2) then (bsum_4v+1, bsum_4v+3).</summary>
    static void Prepare(byte* x, int nb, int* p)
    {
        var y = (BlockQ8_K*)x;
        for (int b = 0; b < nb; b++, y++, p += 8)
        {
            short* s = y->Bsums;
            for (int v = 0; v < 4; v++)
            {
                p[2 * v] = (s[4 * v] & 0xFFFF) | (s[4 * v + 2] << 16);
                p[2 * v + 1] = (s[4 * v + 1] & 0xFFFF) | (s[4 * v + 3] << 16);
            }
        }
    }

    /// <summary>One group's sixteen outputs, continuing from acc.</summary>
    static Vector512<float> One(byte* u, int nb, byte* a, int* p, Vector512<float> acc)
    {
        byte* d = u;
        u += DBytes(nb);
        for (int b = 0; b < nb; b++, u += BlockBytes, d += 32, a += YB, p += 8)
        {
            var i = Half(u, 0, a + YQs) + Half(u, 1, a + YQs);
            // The offset's scale pairs: (sc_4v, sc_4v+2) are each dword's even bytes sign-extended, the odd ones (sc_4v+1, sc_4v+3).
            Vector512<int> off = default;
            for (int v = 0; v < 4; v++)
            {
                var s = Vector512.Load((short*)(u + 64 * v));
                off += Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightArithmetic(s << 8, 8), Vector512.Create(p[2 * v]).AsInt16());
                off += Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightArithmetic(s, 8), Vector512.Create(p[2 * v + 1]).AsInt16());
            }
            // d widened exactly as DecodeRepack.Scales does.
            var bits = Avx512F.ConvertToVector512Int32(Vector256.Load((short*)d)) << 13;
            var dw = (bits & Vector512.Create(unchecked((int)0x8FFFFFFF))).AsSingle() * Vector512.Create(5.192297e33f); // 2^112
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i - (off << 5)), dw * Vector512.Create(*(float*)a), acc);
        }
        return acc;
    }

    /// <summary>Half h of a super-block (columns 4h..4h+3, groups 8h..8h+7): sum_g sc_g x sum(u y) per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Half(byte* u, int h, byte* y)
    {
        // Scale vectors 2h (groups 8h..8h+3: columns 4h, 4h+1) and 2h+1 (columns 4h+2, 4h+3), split into
        // sign-extended even bytes (sc_g, sc_g+2) and odd bytes (sc_g+1, sc_g+3).
        var s0 = Vector512.Load((short*)(u + 128 * h));
        var s1 = Vector512.Load((short*)(u + 128 * h + 64));
        var e0 = Vector512.ShiftRightArithmetic(s0 << 8, 8).AsByte();
        var o0 = Vector512.ShiftRightArithmetic(s0, 8).AsByte();
        var e1 = Vector512.ShiftRightArithmetic(s1 << 8, 8).AsByte();
        var o1 = Vector512.ShiftRightArithmetic(s1, 8).AsByte();
        byte* q = u + QuantsAt + HalfBytes * h;
        y += 128 * h;
        // Chunks 0..3 of each column belong to its first group, 4..7 to its second.
        var i = Quarter(q, y, Avx512BW.Shuffle(e0, Pick0).AsInt16(), Avx512BW.Shuffle(e0, Pick1).AsInt16(),
            Avx512BW.Shuffle(e1, Pick0).AsInt16(), Avx512BW.Shuffle(e1, Pick1).AsInt16());
        return i + Quarter(q + 4 * 192, y + 16, Avx512BW.Shuffle(o0, Pick0).AsInt16(), Avx512BW.Shuffle(o0, Pick1).AsInt16(),
            Avx512BW.Shuffle(o1, Pick0).AsInt16(), Avx512BW.Shuffle(o1, Pick1).AsInt16());
    }

    /// <summary>Chunks 0..3 (from q, against y) of the four columns of a half, each column's group scaled by
    /// its pair c0..c3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Quarter(byte* q, byte* y, Vector512<short> c0, Vector512<short> c1, Vector512<short> c2, Vector512<short> c3)
    {
        Vector512<int> i = default;
        for (int j = 0; j < 4; j += 2, q += 384, y += 8)
        {
            var (a0, a1, a2, a3) = Unpack(q);
            var (b0, b1, b2, b3) = Unpack(q + 192);
            i += Avx512BW.MultiplyAddAdjacent(Pair(a0, b0, y), c0);
            i += Avx512BW.MultiplyAddAdjacent(Pair(a1, b1, y + 32), c1);
            i += Avx512BW.MultiplyAddAdjacent(Pair(a2, b2, y + 64), c2);
            i += Avx512BW.MultiplyAddAdjacent(Pair(a3, b3, y + 96), c3);
        }
        return i;
    }

    /// <summary>Two consecutive chunks (a at y, b at y + 4) of one column against the activation, as int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Pair(Vector512<byte> a, Vector512<byte> b, byte* y) =>
        Avx512BW.MultiplyAddAdjacent(a, Vector512.Create(*(int*)y).AsSByte())
        + Avx512BW.MultiplyAddAdjacent(b, Vector512.Create(*(int*)(y + 4)).AsSByte());

    /// <summary>One chunk of the four columns of a half (see the layout): columns 0..2 are bits 0..5 of the
    /// three vectors, column 3 gathers their bits 6, 7 (the shifts are per int16; the masks drop what
    /// crosses from the neighbouring byte).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<byte>, Vector512<byte>, Vector512<byte>, Vector512<byte>) Unpack(byte* q)
    {
        var m = Vector512.Create((byte)0x3F);
        var v0 = Vector512.Load(q);
        var v1 = Vector512.Load(q + 64);
        var v2 = Vector512.Load(q + 128);
        var c3 = (Vector512.ShiftRightLogical(v0.AsUInt16(), 6).AsByte() & Vector512.Create((byte)0x03))
            | (Vector512.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & Vector512.Create((byte)0x0C))
            | (Vector512.ShiftRightLogical(v2.AsUInt16(), 2).AsByte() & Vector512.Create((byte)0x30));
        return (v0 & m, v1 & m, v2 & m, c3);
    }

    /// <summary>The vpshufb control giving, in every dword, its int16 half k copied into both halves.</summary>
    static Vector512<byte> PickWord(int k)
    {
        var c = new byte[64];
        for (int i = 0; i < 64; i += 4)
        {
            int at = (i & 15) + 2 * k; // vpshufb indexes within each 128-bit lane
            c[i] = (byte)at; c[i + 1] = (byte)(at + 1); c[i + 2] = (byte)at; c[i + 3] = (byte)(at + 1);
        }
        return Vector512.Create(c);
    }
}
