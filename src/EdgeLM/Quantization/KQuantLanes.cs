// Blocked matrix multiply (prompt processing) of Q4_K and Q6_K weights against Q8_K activations at 512
// bits with AVX-512 BW, sixteen weight rows to a register: the rows-in-lanes tile of Block32GemmLanes
// (read its header first) applied to the 256-element super-blocks of the K-quants.
//
// Per row tile every super-block of the sixteen rows is unpacked once into unsigned bytes u (Q4_K: the
// nibble q, weight d * sc * q - dmin * m; Q6_K: the 6-bit q = ql | qh << 4, weight d * sc * (q - 32)),
// laid out so that chunk j of 32-element column s is one register whose lane r holds row r's elements
// 32 s + 4 j .. + 3. The packed bytes are transposed as they are (Block32GemmLanes.Transpose, straight
// from the weights for a whole tile: a dword of packed quants holds the same four positions of two or
// four columns), then split into columns with whole-register masks and shifts. Beside the quants
// the tile keeps, per super-block, the rows' group scales as int16 pairs (sc | sc << 16 in lane r) and
// the pairs that multiply the activation's sums: Q4_K's mins (m_2p | m_2p+1 << 16, against the
// activation's sums over groups 2p and 2p+1, bsum_4p + bsum_4p+1 and bsum_4p+2 + bsum_4p+3, prepared once
// per product), Q6_K's scales (sc_2p | sc_2p+1 << 16, against bsum_2p, bsum_2p+1: one broadcast dword of
// the Q8_K block).
//
// Q4_K: a 32-element group's eight vpmaddubsw are summed as int16 (|sum| <= 8 * 2 * 15 * 128 < 32768),
// then one vpmaddwd by the scale pairs gives sc_g * sum(q y) per row as int32. Q6_K: u < 64 allows two
// chunks per int16 sum (2 * 2 * 63 * 128 = 32256), so each 16-element group takes two vpmaddwd by its
// scale; the offset 32 * sum_g sc_g * bsum_g is subtracted once per super-block. Both give exact integer
// sums (isum, and Q4_K's summs = sum_g m_g * (bsum_2g + bsum_2g+1)), then per super-block
// acc = fma((float)isum, d * dy, acc) and, Q4_K only, acc = fma((float)(-summs), dmin * dy, acc).
//
// Exact for that order: every output equals ReferenceDot (KQuantLanes.Tile.cs), whatever its row's or
// activation's place in a tile (rows past the end of a tile repeat the last row, missing activations the
// last activation; those outputs are dropped). Not bit-identical to Q4_K.VecDot / Q6_K.VecDot (which
// form d * dy * isum - dmin * dy * summs): they agree within float reassociation. Not the decode path,
// not for fewer than MinActivations activations (KQuantGemm takes those), not for CPUs without AVX-512
// BW. Spec: ggml-quants.c block_q4_K (get_scale_min_k4), block_q6_K, block_q8_K.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe partial class KQuantLanes
{
    const int QK = 256, YB = 292, R = 16, C = 4; // super-block size, sizeof(BlockQ8_K), tile rows, tile activations
    const int YQs = 4, YBsums = 260; // offsets of the quants and the 16-element sums in a Q8_K block
    const int Quants = 8 * 512; // transposed bytes of one super-block: 8 columns x 8 chunks x 16 rows x 4 bytes
    // Per super-block of a row tile: the quants, then 16 vectors of scale pairs (Q4_K uses 8), 8 vectors of
    // pairs against the activation's sums (Q4_K uses 4), and 16 floats each of d and dmin (Q6_K: d only).
    const int TmpBytes = R * QK + R * 96 + 3 * 512; // unpacking scratch: packed rows, scale pairs, transposed columns
    const int ScalesAt = Quants, PairsAt = ScalesAt + 16 * 64, DAt = PairsAt + 8 * 64, DminAt = DAt + 64, Stride = DminAt + 64;

    /// <summary>Below this many activations the tile's unpacking costs more than it saves.</summary>
    internal const int MinActivations = 4;

    // Per thread, grown once and reused: the row tile's unpacked super-blocks (nb x Stride), the unpacking
    // scratch (TmpBytes: 16 rows of up to 192 packed quant bytes for a partial tile, 16 x 96 bytes of scale
    // pairs, three transposed columns of packed quants) and Q4_K's prepared group sums (na x nb x 16 bytes).
    [ThreadStatic] static byte[]? t_scratch;

    public static bool Supported => Avx512BW.IsSupported;

    /// <summary>y[t * ys + r] = dot(W[r], x_t) for r in [0, rows), t in [0, na) (Block32Multi.Rows's signature).</summary>
    public static void RowsQ4_K(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n)
    {
        if (na < MinActivations) KQuantGemm.RowsQ4_K(w, rb, rows, a, ab, na, y, ys, n);
        else Rows(w, rb, rows, a, ab, na, y, ys, n, q6: false);
    }

    public static void RowsQ6_K(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n)
    {
        if (na < MinActivations) KQuantGemm.RowsQ6_K(w, rb, rows, a, ab, na, y, ys, n);
        else Rows(w, rb, rows, a, ab, na, y, ys, n, q6: true);
    }

    static void Rows(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n, bool q6)
    {
        int nb = n / QK;
        long need = (long)nb * Stride + TmpBytes + 16L * na * nb + 64;
        var buf = t_scratch is { } s && s.Length >= need ? s : (t_scratch = GC.AllocateUninitializedArray<byte>(checked((int)need), pinned: true));
        fixed (byte* pb = buf)
        {
            byte* up = (byte*)(((nint)pb + 63) & ~(nint)63); // 64-byte aligned: the tile loads whole vectors
            byte* tmp = up + (long)nb * Stride;
            byte* sums = tmp + TmpBytes; // Q4_K: per activation and super-block, its 8 group sums as int16
            if (!q6) PrepareGroupSums(a, ab, na, nb, sums);
            for (int r = 0; r < rows; r += R)
            {
                int valid = Math.Min(R, rows - r);
                if (q6) UnpackTileQ6_K(w + r * rb, rb, valid, nb, up, tmp);
                else UnpackTileQ4_K(w + r * rb, rb, valid, nb, up, tmp);
                for (int t = 0; t < na; t += C)
                {
                    // Missing activations repeat the last one; their outputs are not stored.
                    int t1 = Math.Min(t + 1, na - 1), t2 = Math.Min(t + 2, na - 1), t3 = Math.Min(t + 3, na - 1);
                    var acts = new Acts(a + t * ab, a + t1 * ab, a + t2 * ab, a + t3 * ab,
                        sums + 16L * t * nb, sums + 16L * t1 * nb, sums + 16L * t2 * nb, sums + 16L * t3 * nb);
                    float* yt = y + (long)t * ys + r;
                    int cnt = Math.Min(C, na - t);
                    if (q6) TileQ6_K(up, nb, acts, yt, ys, valid, cnt);
                    else TileQ4_K(up, nb, acts, yt, ys, valid, cnt);
                }
            }
        }
    }

    /// <summary>The row tile's Q4_K super-blocks (rows from `valid` on repeat the last row): nibbles,
    /// scale pairs, min pairs, d, dmin.</summary>
    static void UnpackTileQ4_K(byte* w, long rb, int valid, int nb, byte* up, byte* tmp)
    {
        uint* d = stackalloc uint[R];
        uint* dmin = stackalloc uint[R];
        byte* pairs = tmp + R * QK; // row r's scale pairs and min pairs at 64 r, transposed to ScalesAt, PairsAt
        byte* packed = pairs + R * 96; // one transposed 32-byte column of packed quants
        var mask = Vector512.Create((byte)0x0F);
        for (int b = 0; b < nb; b++, up += Stride)
        {
            for (int r0 = 0; r0 < R; r0 += 4)
            {
                var x0 = Block(w, rb, valid, r0, b); var x1 = Block(w, rb, valid, r0 + 1, b);
                var x2 = Block(w, rb, valid, r0 + 2, b); var x3 = Block(w, rb, valid, r0 + 3, b);
                // The four 16-byte headers (d, dmin, scales), unpacked by get_scale_min_k4 at once: lane k
                // becomes row r0 + k's [8 scales, 8 mins] as bytes, then 16 dwords x | x << 16.
                var hdr = Vector512.Create(Vector256.Create(Vector128.Load((byte*)x0), Vector128.Load((byte*)x1)),
                    Vector256.Create(Vector128.Load((byte*)x2), Vector128.Load((byte*)x3))).AsUInt32();
                var sm = KQuantRows.UnpackScalesMins(hdr).AsByte();
                ScaleMinPairs(sm.GetLower().GetLower(), pairs + 64 * r0); ScaleMinPairs(sm.GetLower().GetUpper(), pairs + 64 * r0 + 64);
                ScaleMinPairs(sm.GetUpper().GetLower(), pairs + 64 * r0 + 128); ScaleMinPairs(sm.GetUpper().GetUpper(), pairs + 64 * r0 + 192);
                d[r0] = x0->D; d[r0 + 1] = x1->D; d[r0 + 2] = x2->D; d[r0 + 3] = x3->D;
                dmin[r0] = x0->Dmin; dmin[r0 + 1] = x1->Dmin; dmin[r0 + 2] = x2->Dmin; dmin[r0 + 3] = x3->Dmin;
            }
            // The packed nibbles are transposed as they are (32 bytes k: group 2k low, 2k + 1 high), then split.
            byte* q = Packed(w, rb, valid, b * sizeof(BlockQ4_K) + 16, 128, tmp, out int stride);
            for (int k = 0; k < 4; k++)
            {
                Block32GemmLanes.Transpose(q + 32 * k, stride, packed);
                for (int j = 0; j < 8; j++)
                {
                    var v = Vector512.Load(packed + 64 * j);
                    (v & mask).Store(up + 1024 * k + 64 * j);
                    (Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask).Store(up + 1024 * k + 512 + 64 * j);
                }
            }
            Block32GemmLanes.Transpose(pairs, 64, up + ScalesAt);
            Block32GemmLanes.Transpose(pairs + 32, 64, up + PairsAt);
            QuantMath.HalfToFloat(Vector512.Load(d)).Store((float*)(up + DAt));
            QuantMath.HalfToFloat(Vector512.Load(dmin)).Store((float*)(up + DminAt));
        }
    }

    /// <summary>One row's [8 scales, 8 mins] bytes as its 64-byte record: dwords 0..7 the scale pairs
    /// (sc_g, sc_g), dwords 8..11 the min pairs (m_2p, m_2p + 1) (12..15 unused).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void ScaleMinPairs(Vector128<byte> sm, byte* record)
    {
        (Avx512F.ConvertToVector512Int32(sm) * Vector512.Create(0x10001)).Store((int*)record);
        Avx2.ConvertToVector256Int16(sm).GetUpper().Store((short*)(record + 32));
    }

    /// <summary>Super-block b of tile row r (the last valid row past `valid`).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static BlockQ4_K* Block(byte* w, long rb, int valid, int r, int b) => (BlockQ4_K*)(w + Math.Min(r, valid - 1) * rb) + b;

    /// <summary>Where the tile's 16 rows of `bytes` packed quant bytes at `offset` in each row are: in place
    /// (row r at q + r * stride) for a whole tile, else copied to tmp with the last valid row repeated.</summary>
    static byte* Packed(byte* w, long rb, int valid, int offset, int bytes, byte* tmp, out int stride)
    {
        if (valid == R && rb <= int.MaxValue)
        {
            stride = (int)rb;
            return w + offset;
        }
        for (int r = 0; r < R; r++)
            new ReadOnlySpan<byte>(w + Math.Min(r, valid - 1) * rb + offset, bytes).CopyTo(new Span<byte>(tmp + bytes * r, bytes));
        stride = bytes;
        return tmp;
    }

    /// <summary>The row tile's Q6_K super-blocks (rows from `valid` on repeat the last row): 6-bit
    /// values, scale pairs per 16-element group, scale pairs for the bsum offset, d.</summary>
    static void UnpackTileQ6_K(byte* w, long rb, int valid, int nb, byte* up, byte* tmp)
    {
        uint* d = stackalloc uint[R];
        byte* pairs = tmp + R * QK, offs = pairs + R * 64; // per row: 16 scale pairs (64 bytes), 8 offset pairs (32)
        byte* packed = pairs + R * 96; // three transposed 32-byte columns of packed quants
        for (int b = 0; b < nb; b++, up += Stride)
        {
            for (int r = 0; r < R; r++)
            {
                var x = (BlockQ6_K*)(w + Math.Min(r, valid - 1) * rb) + b;
                // The 16 int8 scales: sign-extended to int16 they are the 8 offset pairs (sc_2p, sc_2p + 1);
                // to int32, each becomes its group's pair (sc, sc).
                var sc = Vector128.Load(x->Scales);
                Avx2.ConvertToVector256Int16(sc).Store((short*)(offs + 32 * r));
                var sc32 = Avx512F.ConvertToVector512Int32(sc);
                ((sc32 & Vector512.Create(0xFFFF)) | (sc32 << 16)).Store((int*)(pairs + 64 * r));
                d[r] = x->D;
            }
            byte* q = Packed(w, rb, valid, b * sizeof(BlockQ6_K), 192, tmp, out int stride);
            for (int h = 0; h < 2; h++) Unpack6(q + 64 * h, q + 128 + 32 * h, stride, packed, up + 2048 * h);
            Block32GemmLanes.Transpose(pairs, 64, up + ScalesAt);
            Block32GemmLanes.Transpose(pairs + 32, 64, up + ScalesAt + 512);
            Block32GemmLanes.Transpose(offs, 32, up + PairsAt);
            QuantMath.HalfToFloat(Vector512.Load(d)).Store((float*)(up + DAt));
        }
    }

    /// <summary>Half h of the tile's Q6_K super-block: its ql bytes 64 h .. + 63 and qh bytes 32 h .. + 31 of
    /// each row transposed as they are, then combined into the 6-bit values of columns 4 h .. 4 h + 3 (dst).
    /// Column 4 h + k takes ql's low (k = 0, 1) or high (2, 3) nibbles of bytes 32 (k &amp; 1) on, and bits
    /// 2k, 2k + 1 of qh as bits 4 and 5.</summary>
    static void Unpack6(byte* ql, byte* qh, int stride, byte* packed, byte* dst)
    {
        Block32GemmLanes.Transpose(ql, stride, packed);
        Block32GemmLanes.Transpose(ql + 32, stride, packed + 512);
        Block32GemmLanes.Transpose(qh, stride, packed + 1024);
        var mask = Vector512.Create((byte)0x0F);
        var hi = Vector512.Create((byte)0x30);
        for (int j = 0; j < 8; j++, packed += 64, dst += 64)
        {
            var l0 = Vector512.Load(packed);
            var l1 = Vector512.Load(packed + 512);
            var h = Vector512.Load(packed + 1024).AsUInt16();
            ((l0 & mask) | (Vector512.ShiftLeft(h, 4).AsByte() & hi)).Store(dst);
            ((l1 & mask) | (Vector512.ShiftLeft(h, 2).AsByte() & hi)).Store(dst + 512);
            ((Vector512.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & mask) | (h.AsByte() & hi)).Store(dst + 1024);
            ((Vector512.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & mask) | (Vector512.ShiftRightLogical(h, 2).AsByte() & hi)).Store(dst + 1536);
        }
    }

    /// <summary>Per activation and super-block, bsums 2g + 2g + 1 (the activation's sum over Q4_K group
    /// g, |sum| &lt;= 32 * 128) for g = 0..7 as int16: dword p is the pair of groups 2p, 2p + 1.</summary>
    static void PrepareGroupSums(byte* a, long ab, int na, int nb, byte* sums)
    {
        for (int t = 0; t < na; t++)
        {
            var y = (BlockQ8_K*)(a + t * ab);
            for (int b = 0; b < nb; b++, sums += 16)
            {
                var g = Avx2.MultiplyAddAdjacent(Vector256.Load(y[b].Bsums), Vector256<short>.One);
                Sse2.PackSignedSaturate(g.GetLower(), g.GetUpper()).Store((short*)sums);
            }
        }
    }

    /// <summary>A tile's four activation rows and their group sums (Q4_K).</summary>
    readonly struct Acts(byte* a0, byte* a1, byte* a2, byte* a3, byte* p0, byte* p1, byte* p2, byte* p3)
    {
        public readonly byte* A0 = a0, A1 = a1, A2 = a2, A3 = a3;
        public readonly byte* P0 = p0, P1 = p1, P2 = p2, P3 = p3;
    }
}
