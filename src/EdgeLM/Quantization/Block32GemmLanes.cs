// Blocked matrix multiply (prompt processing) of 32-element-block weights (Q4_0, Q5_0, Q8_0) against
// Q8_0 activations at 512 bits with AVX-512 BW, sixteen weight rows to a register: lane r of every
// vector belongs to row r of the tile (the layout llama.cpp's repacked "x8" kernels use, built here per
// row tile from the memory-mapped weights instead of once at load, so it costs no memory).
//
// Why rows in lanes: with a row's elements in the lanes (the tile this replaced), every 64-element product
// must be scaled as floats at once (convert, multiply, FMA per pair of blocks), because its lanes mix
// two blocks. With one row per int32 lane, a block's eight four-element chunks are summed as int16
// (vpaddw, no multiplier port) and one vpmaddwd, one conversion, one multiply and one FMA finish the
// block for sixteen rows: about 11 multiplier-port instructions per 512 multiply-adds instead of 32.
//
// Per row tile every block is unpacked once into unsigned bytes u (Q4_0: q, offset 8; Q5_0: q | qh << 4,
// offset 16; Q8_0: w + 128 split into 16 h + l, two planes, offset 128) and transposed so that chunk j of
// block b is one register whose lane r holds row r's elements 4j..4j+3. An activation chunk is a 4-byte
// broadcast; vpmaddubsw (unsigned weight x signed activation) gives two products' sum per int16. Q4_0 adds
// all eight chunks (|sum| <= 8 * 2 * 15 * 128 = 30720 < 32768), Q5_0 four at a time (4 * 2 * 31 * 128),
// each Q8_0 plane eight; vpmaddwd by 1 (16 for Q8_0's high plane) widens to one int32 per row, less the
// activation's Offset * sum(y) (prepared once per product): the block's exact integer dot sumi. Then
// acc = fma((float)sumi, dw * dy, acc), block after block.
//
// Exact for that order: every output equals ReferenceDot (the same order in a scalar loop), whatever
// its row's or activation's place in a tile (rows past the end of a tile repeat the last row, missing
// activations the last activation, and those outputs are dropped). Not bit-identical to the single-row
// dot (Block32Simd keeps sixteen lane accumulators per output): the two agree within float reassociation.
// Not the decode path (one activation row: Block32Decode) and not for CPUs without AVX-512 BW.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

/// <summary>One weight format as unsigned bytes for the rows-in-lanes tile.</summary>
internal unsafe interface ILanes32
{
    static abstract int BlockBytes { get; }
    /// <summary>1, or 2 for Q8_0 (w + 128 = 16 h + l: plane 0 holds h, plane 1 l).</summary>
    static abstract int Planes { get; }
    /// <summary>Chunks of four elements whose vpmaddubsw sums an int16 lane can add without overflow.</summary>
    static abstract int Group { get; }
    /// <summary>The weight is u - Offset.</summary>
    static abstract int Offset { get; }
    /// <summary>The block's 32 u in element order at dst (plane 1 at dst + planeStride).</summary>
    static abstract void Unpack(byte* block, byte* dst, int planeStride);
}

internal unsafe struct Q4_0Lanes : ILanes32
{
    public static int BlockBytes => 18;
    public static int Planes => 1;
    public static int Group => 8;
    public static int Offset => 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* block, byte* dst, int planeStride)
    {
        var q = Vector128.Load(block + 2);
        var m = Vector128.Create((byte)0x0F);
        (q & m).Store(dst);
        (Vector128.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m).Store(dst + 16);
    }
}

internal unsafe struct Q5_0Lanes : ILanes32
{
    public static int BlockBytes => 22;
    public static int Planes => 1;
    public static int Group => 4;
    public static int Offset => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* block, byte* dst, int planeStride)
    {
        var q = Vector128.Load(block + 6);
        var m = Vector128.Create((byte)0x0F);
        var nibbles = Vector256.Create(q & m, Vector128.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m);
        // Bit i of qh is element i's fifth bit: byte i takes qh's byte i / 8 (vpshufb within each half of
        // the broadcast word), keeps bit i % 8, and becomes 0x10 where that bit is set.
        var spread = Avx2.Shuffle(Vector256.Create(*(uint*)(block + 2)).AsByte(), Vector256.Create(
            0x0000000000000000ul, 0x0101010101010101ul, 0x0202020202020202ul, 0x0303030303030303ul).AsByte());
        var bit = Vector256.Create(0x8040201008040201ul).AsByte();
        (nibbles | (Vector256.Equals(spread & bit, bit) & Vector256.Create((byte)0x10))).Store(dst);
    }
}

internal unsafe struct Q8_0Lanes : ILanes32
{
    public static int BlockBytes => 34;
    public static int Planes => 2;
    public static int Group => 8;
    public static int Offset => 128;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* block, byte* dst, int planeStride)
    {
        var u = Vector256.Load(block + 2) ^ Vector256.Create((byte)0x80);
        var m = Vector256.Create((byte)0x0F);
        (Vector256.ShiftRightLogical(u.AsUInt16(), 4).AsByte() & m).Store(dst);
        (u & m).Store(dst + planeStride);
    }
}

[SkipLocalsInit]
internal static unsafe partial class Block32GemmLanes
{
    const int QK = 32, YB = 34, R = 32, C = 4; // block size, sizeof(BlockQ8_0), tile rows (two groups of 16), tile activations
    const int Chunks = 512; // bytes of one transposed block plane: 8 chunks x 16 rows x 4 bytes
    /// <summary>Below this many activations the tile's unpacking costs more than it saves.</summary>
    internal const int MinActivations = 4;

    // Per thread, grown once and reused: the prepared activations (na x nb of (dy, Offset * sum y)), the
    // row tile's transposed weights (nb x Planes x Chunks), its weight scales (nb x 16 floats) and the
    // unpacking scratch (Planes x 16 rows x 32 bytes).
    [ThreadStatic] static byte[]? t_scratch;

    public static bool Supported => Avx512BW.IsSupported;

    /// <summary>y[t * ys + r] = dot(W[r], x_t) for r in [0, rows), t in [0, na) (Block32Multi.Rows's
    /// signature); below MinActivations the tiled kernel TP of the same format takes the call.</summary>
    public static void Rows<T, TP>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n)
        where T : ILanes32 where TP : IPair512 =>
        Rows<T, TP>(w, rb, rows, a, ab, na, y, ys, n, null);

    /// <summary>Rows with the activations already prepared by <see cref="PrepareActivations"/> for format T
    /// (null: prepared here): a product split into many calls prepares them once instead of once per call.</summary>
    public static void Rows<T, TP>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n, int* prepared)
        where T : ILanes32 where TP : IPair512
    {
        if (na < MinActivations)
        {
            Block32Multi.Rows<TP>(w, rb, rows, a, ab, na, y, ys, n);
            return;
        }
        Run<T>(w, rb, rows, a, ab, na, y, ys, n, R, &UnpackTile<T>, &Tile<T>, prepared);
    }

    /// <summary>Bytes <see cref="PrepareActivations"/> writes for na activations of n elements.</summary>
    public static long PreparedBytes(int na, int n) => 8L * na * (n / QK);

    /// <summary>The driver both widths share: activations prepared once (unless given), then per row tile of
    /// tileRows rows its blocks unpacked and transposed (unpack), then the tile against every four activations (tile).</summary>
    static void Run<T>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n, int tileRows,
        delegate*<byte*, long, int, int, byte*, float*, byte*, void> unpack,
        delegate*<byte*, float*, int, in Acts, float*, int, int, int, void> tile, int* prepared) where T : ILanes32
    {
        int nb = n / QK, planes = T.Planes;
        // Transposed weights: 32 bytes per row, block and plane; scales: one float per row and block.
        long pre = prepared == null ? PreparedBytes(na, n) : 0, weights = 32L * tileRows * nb * planes, scales = 4L * tileRows * nb;
        long need = pre + weights + scales + planes * Chunks + 128;
        var buf = t_scratch is { } s && s.Length >= need ? s : (t_scratch = GC.AllocateUninitializedArray<byte>(checked((int)need), pinned: true));
        fixed (byte* pb = buf)
        {
            byte* up = (byte*)(((nint)pb + 63) & ~(nint)63); // 64-byte aligned: the tile loads whole vectors
            float* wd = (float*)(up + weights);
            byte* tmp = (byte*)(wd + tileRows * nb);
            int* p = prepared;
            if (p == null)
            {
                p = (int*)(tmp + planes * Chunks);
                PrepareActivations<T>(a, ab, na, nb, p);
            }
            for (int r = 0; r < rows; r += tileRows)
            {
                int valid = Math.Min(tileRows, rows - r);
                unpack(w + r * rb, rb, valid, nb, up, wd, tmp);
                for (int t = 0; t < na; t += C)
                {
                    // Missing activations repeat the last one; their outputs are not stored.
                    int t1 = Math.Min(t + 1, na - 1), t2 = Math.Min(t + 2, na - 1), t3 = Math.Min(t + 3, na - 1);
                    var acts = new Acts(a + t * ab, a + t1 * ab, a + t2 * ab, a + t3 * ab,
                        p + 2L * t * nb, p + 2L * t1 * nb, p + 2L * t2 * nb, p + 2L * t3 * nb);
                    tile(up, wd, nb, acts, y + (long)t * ys + r, ys, valid, Math.Min(C, na - t));
                }
            }
        }
    }

    /// <summary>Per activation and block: its scale as float bits and Offset * (sum of its 32 quants).</summary>
    internal static void PrepareActivations<T>(byte* a, long ab, int na, int nb, int* p) where T : ILanes32
    {
        var flip = Vector256.Create((byte)0x80);
        for (int t = 0; t < na; t++)
        {
            byte* x = a + t * ab;
            for (int b = 0; b < nb; b++, x += YB, p += 2)
            {
                // sum(y) = sum(y + 128) - 32 * 128, the biased sum by vpsadbw against zero.
                var sad = Avx2.SumAbsoluteDifferences(Vector256.Load(x + 2) ^ flip, Vector256<byte>.Zero).AsUInt64();
                int sum = (int)Vector256.Sum(sad) - 32 * 128;
                p[0] = BitConverter.SingleToInt32Bits(QuantMath.HalfToFloat(*(ushort*)x));
                p[1] = T.Offset * sum;
            }
        }
    }

    /// <summary>The row tile's blocks as transposed planes (up: per block, group 0's planes then group 1's)
    /// and its weight scales (wd: 32 per block); rows from `valid` on repeat the last row.</summary>
    static void UnpackTile<T>(byte* w, long rb, int valid, int nb, byte* up, float* wd, byte* tmp) where T : ILanes32
    {
        uint* d = stackalloc uint[R];
        for (int b = 0; b < nb; b++, wd += R)
        {
            for (int g = 0; g < R; g += 16)
            {
                for (int r = 0; r < 16; r++)
                {
                    byte* block = w + Math.Min(g + r, valid - 1) * rb + (long)b * T.BlockBytes;
                    T.Unpack(block, tmp + 32 * r, Chunks);
                    d[g + r] = *(ushort*)block;
                }
                for (int k = 0; k < T.Planes; k++, up += Chunks)
                    Transpose(tmp + k * Chunks, 32, up);
            }
            QuantMath.HalfToFloat(Vector512.Load(d)).Store(wd);
            QuantMath.HalfToFloat(Vector512.Load(d + 16)).Store(wd + 16);
        }
    }

    /// <summary>16 rows of 8 dwords (src, row r at src + r * stride) to 8 vectors of 16 dwords (dst, 512
    /// bytes): vector j, lane r = row r's dword j. Two rounds of vpermt2d, then 128-bit shuffles.</summary>
    internal static void Transpose(byte* src, int stride, byte* dst)
    {
        var v0 = Rows2(src, stride); var v1 = Rows2(src + 2 * stride, stride);
        var v2 = Rows2(src + 4 * stride, stride); var v3 = Rows2(src + 6 * stride, stride);
        var v4 = Rows2(src + 8 * stride, stride); var v5 = Rows2(src + 10 * stride, stride);
        var v6 = Rows2(src + 12 * stride, stride); var v7 = Rows2(src + 14 * stride, stride);
        // Round 1: w{q}{h} lane 4 jj + rr = row 4q + rr's dword 4h + jj.
        var i0 = Vector512.Create(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
        var i1 = i0 + Vector512.Create(4);
        TransposeHalf(Avx512F.PermuteVar16x32x2(v0, i0, v1), Avx512F.PermuteVar16x32x2(v2, i0, v3),
            Avx512F.PermuteVar16x32x2(v4, i0, v5), Avx512F.PermuteVar16x32x2(v6, i0, v7), (int*)dst);
        TransposeHalf(Avx512F.PermuteVar16x32x2(v0, i1, v1), Avx512F.PermuteVar16x32x2(v2, i1, v3),
            Avx512F.PermuteVar16x32x2(v4, i1, v5), Avx512F.PermuteVar16x32x2(v6, i1, v7), (int*)dst + 64);
    }

    /// <summary>Two rows' 8 dwords in one vector (lanes 0..7, 8..15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Rows2(byte* src, int stride) =>
        Vector256.Load((int*)src).ToVector512Unsafe().WithUpper(Vector256.Load((int*)(src + stride)));

    /// <summary>Round 2 for four dwords: out jj (0..3) = the jj-th four lanes of w0, w1, w2, w3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void TransposeHalf(Vector512<int> w0, Vector512<int> w1, Vector512<int> w2, Vector512<int> w3, int* dst)
    {
        var j01 = Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
        var j23 = j01 + Vector512.Create(8);
        var x01 = Avx512F.PermuteVar16x32x2(w0, j01, w1); var y01 = Avx512F.PermuteVar16x32x2(w2, j01, w3);
        var x23 = Avx512F.PermuteVar16x32x2(w0, j23, w1); var y23 = Avx512F.PermuteVar16x32x2(w2, j23, w3);
        Avx512F.Shuffle4x128(x01, y01, 0x44).Store(dst);
        Avx512F.Shuffle4x128(x01, y01, 0xEE).Store(dst + 16);
        Avx512F.Shuffle4x128(x23, y23, 0x44).Store(dst + 32);
        Avx512F.Shuffle4x128(x23, y23, 0xEE).Store(dst + 48);
    }

    /// <summary>A tile's four activation rows and their prepared (dy, offset) pairs.</summary>
    readonly struct Acts(byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3)
    {
        public readonly byte* A0 = a0, A1 = a1, A2 = a2, A3 = a3;
        public readonly int* P0 = p0, P1 = p1, P2 = p2, P3 = p3;
    }
}
