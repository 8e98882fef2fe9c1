// Q4_K weights repacked once at load into groups of sixteen rows, and the decode product (every weight
// row against ONE Q8_K activation row) over them at 512 bits with AVX-512 BW (at 256 bits with AVX2 + FMA:
// Q4_KRepack256.cs): Q4_0Repack's idea (read its header first) for the 256-element super-blocks, with
// KQuantLanes' integer arithmetic (read its header).
//
// Layout (per group of 16 rows, the last group padded by repeating the last row; groups one after the
// other, each GroupBytes(nb) long for nb = n / 256 super-blocks, all 64-byte aligned), per super-block,
// 2304 bytes, exactly the file's 16 x 144 bytes (so a token reads no more than the mapped path does):
//   bytes    0..63    lane r = row r's first dword: d | dmin << 16 (fp16)
//   bytes   64..255   3 vectors, vector v lane r = row r's packed scale bytes 4v..4v+3 (get_scale_min_k4's
//                     12 bytes as they are: unpacked per token by a few whole-register masks and shifts)
//   bytes  256..2303  32 vectors, vector 8k + j lane r = row r's quant dword j of 32-byte column k, so
//                     v & 0x0F is chunk j (elements 4j..4j+3) of group 2k and (v >> 4) & 0x0F that of
//                     group 2k + 1 (Block32GemmLanes.Transpose of the packed bytes).
// Scales and mins stay packed because the decode streams the weights from memory (see Q4_0Repack's
// measurement of widened scales); their unpacking costs a dozen register operations per super-block for
// sixteen rows. d and dmin are widened by DecodeRepack.Scales' exact trick (sign bits, shift, mask, times 2^112):
// a matrix with an infinite or NaN d or dmin is not repacked (DecodeRepack.Create returns null).
//
// Per super-block: group g's eight vpmaddubsw summed as int16 (|sum| <= 8 * 2 * 15 * 128 < 32768), one
// vpmaddwd by the pair (sc_g, sc_g) taken from the scale bytes by vpshufb; the mins as int16 pairs (m_g,
// m_g+2) against the activation's group sums (bsum_2g + bsum_2g+1) paired the same way, prepared once per
// product. Then acc = fma((float)isum, d * dy, acc), acc = fma((float)(-summs), dmin * dy, acc): the order
// of KQuantLanes.ReferenceDot, so every output equals it bit for bit. Not the prompt path (several
// activations: KQuantLanes). With AVX2 + FMA but not AVX-512 BW, Q4_KRepack256.cs runs the same product at
// 256 bits; without those, Supported is false and nothing is repacked. Spec: ggml-quants.c block_q4_K,
// get_scale_min_k4, block_q8_K.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe partial class Q4_KRepack
{
    /// <summary>Rows per group: one row per int32 lane of a 512-bit register.</summary>
    public const int GroupRows = DecodeRepack.GroupRows;
    const int QK = 256, WB = 144, YB = 292; // super-block size, sizeof(BlockQ4_K), sizeof(BlockQ8_K)
    const int BlockBytes = 2304, ScalesAt = 64, QuantsAt = 256, YQs = 4; // per super-block of a group

    // Per thread, grown once and reused: the activation's group-sum pairs (4 dwords per super-block).
    [ThreadStatic] static int[]? t_prepared;

    // vpshufb controls: in each dword, byte g of the same dword zero-extended into both int16 halves.
    static readonly Vector512<byte> Pick0 = PickByte(0), Pick1 = PickByte(1), Pick2 = PickByte(2), Pick3 = PickByte(3);

    public static bool Supported => Avx512BW.IsSupported || (Avx2.IsSupported && Fma.IsSupported);

    /// <summary>Bytes of one group of nb super-blocks.</summary>
    public static long GroupBytes(int nb) => (long)nb * BlockBytes;

    /// <summary>Bytes of the repacked matrix (rows x n elements).</summary>
    public static long Size(int rows, int n) => DecodeRepack.Groups(rows) * GroupBytes(n / QK);


    /// <summary>Writes the layout (see the header) of rows x n Q4_K weights into dst (Size(rows, n) bytes,
    /// 64-byte aligned); false (dst then partly written) if a d or dmin is infinite or NaN.</summary>
    public static bool Pack(byte* w, long rb, int rows, int n, byte* dst)
    {
        int nb = n / QK;
        const uint special = 0x7C00; // an fp16 exponent of all ones: infinity or NaN
        for (int g = 0; g < DecodeRepack.Groups(rows); g++)
            for (int b = 0; b < nb; b++, dst += BlockBytes)
                for (int r = 0; r < GroupRows; r++)
                {
                    uint* src = (uint*)(w + Math.Min(g * GroupRows + r, rows - 1) * rb + (long)b * WB);
                    if ((src[0] & special) == special || ((src[0] >> 16) & special) == special) return false;
                    uint* d = (uint*)dst + r; // lane r of each vector: 16 dwords apart
                    d[0] = src[0];
                    for (int v = 0; v < 3; v++) d[16 * (1 + v)] = src[1 + v];
                    for (int q = 0; q < 32; q++) d[16 * (4 + q)] = src[4 + q]; // vector 8k + j = dword 8k + j of qs
                }
        return true;
    }

    /// <summary>Lanes [0, count) of one group (at group, nb blocks) back in the file's layout, lane r as the row at
    /// dst + r * rb: Pack's inverse, byte for byte (DecodeRepack.UnpackRows: prompts read rows).</summary>
    public static void Unpack(byte* group, int nb, int count, byte* dst, long rb)
    {
        for (int b = 0; b < nb; b++, group += BlockBytes)
            for (int r = 0; r < count; r++)
            {
                uint* block = (uint*)(dst + r * rb + (long)b * WB); // 144-byte blocks: dword-aligned
                uint* src = (uint*)group + r; // dword k of the row: 16 dwords apart
                for (int k = 0; k < WB / 4; k++) block[k] = src[16 * k];
            }
    }

    /// <summary>y[r - start] = dot(W[r], x) for r in [start, end) at a given width (Vector512 or Vector256), W
    /// repacked by <see cref="Pack"/> from a matrix of n columns, x one Q8_K row of n elements; with carry, each
    /// dot continues from the value in y (DecodeRepack's column panels: the same operations in the same order
    /// as one product over the whole row). Outputs outside [start, end) are not touched.</summary>
    internal static void Rows(byte* packed, int n, int start, int end, byte* x, float* y, SimdLevel level, bool carry)
    {
        if (start >= end) return;
        int nb = n / QK;
        var buf = t_prepared is { } s && s.Length >= 4 * nb ? s : (t_prepared = GC.AllocateUninitializedArray<int>(Math.Max(4 * nb, 64), pinned: true));
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

    /// <summary>Per super-block the activation's group sums gs_g = bsum_2g + bsum_2g+1 (|gs| &lt;= 32 * 128)
    /// as int16 pairs: (gs0, gs2), (gs1, gs3), (gs4, gs6), (gs5, gs7), matching the mins' pairs.</summary>
    static void Prepare(byte* x, int nb, int* p)
    {
        var y = (BlockQ8_K*)x;
        for (int b = 0; b < nb; b++, y++, p += 4)
        {
            short* s = y->Bsums;
            for (int q = 0; q < 4; q++)
            {
                int g = 4 * (q >> 1) + (q & 1); // pairs (g, g + 2)
                int lo = s[2 * g] + s[2 * g + 1], hi = s[2 * g + 4] + s[2 * g + 5];
                p[q] = (lo & 0xFFFF) | (hi << 16);
            }
        }
    }

    /// <summary>One group's sixteen outputs, continuing from acc.</summary>
    static Vector512<float> One(byte* u, int nb, byte* a, int* p, Vector512<float> acc)
    {
        for (int b = 0; b < nb; b++, u += BlockBytes, a += YB, p += 4)
            acc = SuperBlock(u, a, p, acc);
        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> SuperBlock(byte* u, byte* a, int* p, Vector512<float> acc)
    {
        // get_scale_min_k4 on whole registers: bytes 0..3 of lane r's scales and mins from the 12 packed bytes.
        // The mins first, so that only the two scale vectors stay live across the columns (fewer spills).
        var v0 = Vector512.Load((uint*)(u + ScalesAt));
        var v1 = Vector512.Load((uint*)(u + ScalesAt + 64));
        var v2 = Vector512.Load((uint*)(u + ScalesAt + 128));
        var six = Vector512.Create(0x3F3F3F3Fu);
        var low = Vector512.Create(0x0F0F0F0Fu);
        var top = Vector512.Create(0x30303030u);
        var mA = v1 & six; // m0..m3
        var mB = ((v2 >> 4) & low) | ((v1 >> 2) & top); // m4..m7

        // summs: the bytes' even and odd positions as int16 pairs (m0, m2), (m1, m3), ... against (gs0, gs2), ...
        var even = Vector512.Create(0x00FF00FFu);
        var summs = Avx512BW.MultiplyAddAdjacent((mA & even).AsInt16(), Vector512.Create(p[0]).AsInt16())
            + Avx512BW.MultiplyAddAdjacent(((mA >> 8) & even).AsInt16(), Vector512.Create(p[1]).AsInt16())
            + Avx512BW.MultiplyAddAdjacent((mB & even).AsInt16(), Vector512.Create(p[2]).AsInt16())
            + Avx512BW.MultiplyAddAdjacent(((mB >> 8) & even).AsInt16(), Vector512.Create(p[3]).AsInt16());

        var scA = (v0 & six).AsByte(); // sc0..sc3
        var scB = ((v2 & low) | ((v0 >> 2) & top)).AsByte(); // sc4..sc7
        byte* q = u + QuantsAt;
        byte* y = a + YQs;
        var isum = Column(q, y, Avx512BW.Shuffle(scA, Pick0).AsInt16(), Avx512BW.Shuffle(scA, Pick1).AsInt16());
        isum += Column(q + 512, y + 64, Avx512BW.Shuffle(scA, Pick2).AsInt16(), Avx512BW.Shuffle(scA, Pick3).AsInt16());
        isum += Column(q + 1024, y + 128, Avx512BW.Shuffle(scB, Pick0).AsInt16(), Avx512BW.Shuffle(scB, Pick1).AsInt16());
        isum += Column(q + 1536, y + 192, Avx512BW.Shuffle(scB, Pick2).AsInt16(), Avx512BW.Shuffle(scB, Pick3).AsInt16());

        // d (low half) and dmin (high half) of the header dwords, widened exactly as DecodeRepack.Scales does:
        // each half brought to bits 13..28 with its sign copied above, the copies masked off, times 2^112.
        var hdr = Vector512.Load((int*)u);
        var mask = Vector512.Create(unchecked((int)0x8FFFE000));
        var pow = Vector512.Create(5.192297e33f); // 2^112
        var d = (Vector512.ShiftRightArithmetic(hdr << 16, 3) & mask).AsSingle() * pow;
        var dmin = (Vector512.ShiftRightArithmetic(hdr, 3) & mask).AsSingle() * pow;
        var dy = Vector512.Create(*(float*)a);
        acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(isum), d * dy, acc);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Vector512<int>.Zero - summs), dmin * dy, acc);
    }

    /// <summary>Column k's groups 2k (low nibbles, against y..y + 31) and 2k + 1 (high, y + 32..): sc_g x
    /// sum(q y) per lane, the eight chunks of each group summed as int16 first (any order: the sum is exact).
    /// Written out in pairs rather than as a loop: the JIT does not unroll it, and the loop's index arithmetic and
    /// the spills around it put ~9 scalar instructions beside every 11 vector ones (KernelBench 65536x2048, one
    /// thread, huge pages: 0.94-0.96 of a plain read before, 0.97-1.03 after; from cache unchanged). Not at 256
    /// bits: with sixteen registers the written-out form spills and ran 10-25% slower there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Column(byte* q, byte* y, Vector512<short> scLo, Vector512<short> scHi)
    {
        var (lo0, hi0) = Chunks(q, y);
        var (lo1, hi1) = Chunks(q + 128, y + 8);
        var (lo2, hi2) = Chunks(q + 256, y + 16);
        var (lo3, hi3) = Chunks(q + 384, y + 24);
        return Avx512BW.MultiplyAddAdjacent((lo0 + lo1) + (lo2 + lo3), scLo) + Avx512BW.MultiplyAddAdjacent((hi0 + hi1) + (hi2 + hi3), scHi);
    }

    /// <summary>Chunks j and j + 1 of a column (the vectors at q and q + 64): their low nibbles against y..y + 7,
    /// their high nibbles against y + 32..y + 39, each pair summed as int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<short> Lo, Vector512<short> Hi) Chunks(byte* q, byte* y)
    {
        var m = Vector512.Create((byte)0x0F);
        var v0 = Vector512.Load(q);
        var v1 = Vector512.Load(q + 64);
        var lo = Avx512BW.MultiplyAddAdjacent(v0 & m, Vector512.Create(*(int*)y).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(v1 & m, Vector512.Create(*(int*)(y + 4)).AsSByte());
        var hi = Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightLogical(v0.AsUInt16(), 4).AsByte() & m, Vector512.Create(*(int*)(y + 32)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & m, Vector512.Create(*(int*)(y + 36)).AsSByte());
        return (lo, hi);
    }

    /// <summary>The vpshufb control giving, in every dword, its byte g zero-extended into both int16 halves.</summary>
    static Vector512<byte> PickByte(int g)
    {
        var c = new byte[64];
        for (int i = 0; i < 64; i += 4)
        {
            int at = (i & 15) + g; // vpshufb indexes within each 128-bit lane
            c[i] = (byte)at; c[i + 1] = 0x80; c[i + 2] = (byte)at; c[i + 3] = 0x80;
        }
        return Vector512.Create(c);
    }
}
