// AVX-512 decode kernels for Q4_K and Q6_K: four weight rows against one Q8_K activation row per pass.
// A single-row dot spends about half its instructions per super-block outside the multiply-adds:
// unpacking the 6-bit scales and mins with scalar shifts, the min/offset term, two horizontal sums and
// a scalar float combine. Four rows share those: their headers are unpacked together in one register
// (one row per 128-bit lane), the four rows' lane sums are reduced together by transposing shuffles,
// and the float combine runs on a 4-lane vector, one lane per row. The activation is shuffled once per
// super-block into the order of the weights' 64-byte loads and used by all four rows.
// Per (row, super-block) the integer sums are exact and the float expression per lane is the scalar
// reference's, in its order (d * yd * isum - dmin * yd * summs, added to the row's running sum), so
// every output is bit-identical to the scalar dot (Q4_K.VecDot / Q6_K.VecDot) and to the single dot.
// Not the prefill path (KQuantMulti / KQuantGemm) and not for rows outside whole tiles of four (those
// take KQuantAvx512's single dot). Spec: ggml-quants.c block_q4_K / block_q6_K, get_scale_min_k4.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class KQuantRows
{
    const int R = 4; // weight rows per pass

    /// <summary>y[r] = dot(W[r], x) for r in [0, rows); W rows rb bytes apart, x one Q8_K row.</summary>
    public static void RowsQ4_K(byte* w, long rb, int rows, byte* a, float* y, int n)
    {
        int r = 0;
        for (; r + R <= rows; r += R) Q4_K4(w + r * rb, rb, a, y + r, n);
        for (; r < rows; r++) y[r] = KQuantAvx512.DotQ4_K(w + r * rb, a, n);
    }

    public static void RowsQ6_K(byte* w, long rb, int rows, byte* a, float* y, int n)
    {
        int r = 0;
        for (; r + R <= rows; r += R) Q6_K4(w + r * rb, rb, a, y + r, n);
        for (; r < rows; r++) y[r] = KQuantAvx512.DotQ6_K(w + r * rb, a, n);
    }

    /// <summary>vpermw indices: 16-bit lane s0 to the low half, s1 to the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Spread2(int s0, int s1) => Vector512.Create(Vector256.Create((short)s0), Vector256.Create((short)s1));

    /// <summary>Four Q4_K rows. Weights are loaded 64 bytes at a time: the low nibbles of qs[0..63] are
    /// groups 0 and 2, the high nibbles groups 1 and 3, so the activation is regrouped to match
    /// ([g0 | g2], [g1 | g3], [g4 | g6], [g5 | g7]) once for all rows.</summary>
    static void Q4_K4(byte* w, long rb, byte* a, float* y, int n)
    {
        var mask = Vector512.Create((byte)0x0F);
        // Unpacked scales of a row pair as 16-bit lanes: row 2p + k's scales at 16k..16k+7, mins at 16k+8.
        Vector512<short> a0 = Spread2(0, 2), b0 = Spread2(1, 3), c0 = Spread2(4, 6), d0 = Spread2(5, 7);
        Vector512<short> a1 = Spread2(16, 18), b1 = Spread2(17, 19), c1 = Spread2(20, 22), d1 = Spread2(21, 23);
        var sum = Vector128<float>.Zero;
        for (int i = 0; i < n / 256; i++)
        {
            byte* x0 = w + i * sizeof(BlockQ4_K), x1 = x0 + rb, x2 = x0 + 2 * rb, x3 = x0 + 3 * rb;
            var yb = (BlockQ8_K*)a + i;
            // The next tile's bytes, a super-block's share per step, as Q6_K4 does: without it the four row
            // streams ran at 7 GB/s on a matrix read from memory (128256 x 2048: 77 against ggml's 28 ps/element).
            byte* next = w + R * rb + i * R * sizeof(BlockQ4_K);
            for (int p = 0; p < R * sizeof(BlockQ4_K); p += 64) Sse.Prefetch0(next + p);
            // Lane r: [d | dmin, u0, u1, u2] of row r (the block's first 16 bytes).
            var hdr = Gather4(x0, rb);
            var sm = UnpackScalesMins(hdr);
            var zLo = Avx512BW.ConvertToVector512Int16(sm.GetLower().AsByte());
            var zHi = Avx512BW.ConvertToVector512Int16(sm.GetUpper().AsByte());

            var y0 = Vector512.Load(yb->Qs).AsInt32();
            var y1 = Vector512.Load(yb->Qs + 64).AsInt32();
            var y2 = Vector512.Load(yb->Qs + 128).AsInt32();
            var y3 = Vector512.Load(yb->Qs + 192).AsInt32();
            var yA = Avx512F.Shuffle4x128(y0, y1, 0x44).AsSByte();
            var yB = Avx512F.Shuffle4x128(y0, y1, 0xEE).AsSByte();
            var yC = Avx512F.Shuffle4x128(y2, y3, 0x44).AsSByte();
            var yD = Avx512F.Shuffle4x128(y2, y3, 0xEE).AsSByte();
            var acc0 = Acc4(x0 + 16, zLo, a0, b0, c0, d0, yA, yB, yC, yD, mask);
            var acc1 = Acc4(x1 + 16, zLo, a1, b1, c1, d1, yA, yB, yC, yD, mask);
            var acc2 = Acc4(x2 + 16, zHi, a0, b0, c0, d0, yA, yB, yC, yD, mask);
            var acc3 = Acc4(x3 + 16, zHi, a1, b1, c1, d1, yA, yB, yC, yD, mask);

            // Min term: sum over groups of m * (bsums[2g] + bsums[2g + 1]); the pair sums fit 16 bits
            // (|bsum| <= 16 * 127), so one vpmaddwd against the 16-bit mins gives it per row.
            var p8 = BsumPairs(yb);
            var mLo = Avx512BW.MultiplyAddAdjacent(zLo, p8);
            var mHi = Avx512BW.MultiplyAddAdjacent(zHi, p8);
            // Lanes 1 and 3 of each hold the mins' products (lanes 0 and 2 the scales', unused).
            var mins = Avx512F.Shuffle4x128(mLo, mHi, 0xDD);
            var (isum, summs) = Reduce(acc0, acc1, acc2, acc3, mins);

            var (d, dmin) = SuperScales(hdr);
            var yd = Vector128.Create(yb->D);
            sum += d * yd * Vector128.ConvertToSingle(isum) - dmin * yd * Vector128.ConvertToSingle(summs);
        }
        sum.Store(y);
    }

    /// <summary>16 bytes of four rows (p, p + rb, ...), one row per 128-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Gather4(byte* p, long rb)
    {
        var lo = Vector256.Create(Vector128.Load(p), Vector128.Load(p + rb));
        var hi = Vector256.Create(Vector128.Load(p + 2 * rb), Vector128.Load(p + 3 * rb));
        return Avx512F.InsertVector256(lo.ToVector512Unsafe(), hi, 1).AsUInt32();
    }

    /// <summary>The activation's 16-sums added in pairs (bsums[2g] + bsums[2g + 1], which fit 16 bits
    /// as |bsum| &lt;= 16 * 127), as 8 shorts repeated in every 128-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<short> BsumPairs(BlockQ8_K* yb)
    {
        var pairs = Avx2.MultiplyAddAdjacent(Vector256.Load(yb->Bsums), Vector256<short>.One);
        var p8 = Sse2.PackSignedSaturate(pairs.GetLower(), pairs.GetUpper());
        return Avx512F.PermuteVar8x64(p8.ToVector256Unsafe().ToVector512Unsafe().AsUInt64(), Vector512.Create(0UL, 1, 0, 1, 0, 1, 0, 1)).AsInt16();
    }

    /// <summary>The four rows' fp16 d and dmin (the first 4 bytes of each lane of hdr) widened in one go.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector128<float> D, Vector128<float> Dmin) SuperScales(Vector512<uint> hdr)
    {
        var h = Avx512F.PermuteVar16x32(hdr, Vector512.Create(0u, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12)).GetLower();
        var f = QuantMath.HalfToFloat(Avx2.ShiftRightLogicalVariable(h, Vector256.Create(0u, 0, 0, 0, 16, 16, 16, 16)));
        return (f.GetLower(), f.GetUpper());
    }

    /// <summary>get_scale_min_k4 for four rows at once (ggml's utmp unpacking per 128-bit lane):
    /// lane r becomes [8 scale bytes, 8 min bytes] of row r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> UnpackScalesMins(Vector512<uint> hdr)
    {
        const uint K1 = 0x3f3f3f3f, K2 = 0x0f0f0f0f, K4 = 0x30303030;
        // [u0, u2, u1, u2 >> 4] & [K1, K2, K1, K2] | ([u0, u0, u1, u1] >> 2) & [0, K4, 0, K4]. Per byte,
        // (b >> 2) & 0x30 is ggml's ((b >> 6) & 3) << 4: bits 6, 7 to 4, 5; the mask drops what a
        // 32-bit shift brings in from the byte above.
        var lo = Avx512F.ShiftRightLogicalVariable(Avx512F.Shuffle(hdr, 0xED), Vector512.Create(0u, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4));
        var hi = Vector512.ShiftRightLogical(Avx512F.Shuffle(hdr, 0xA5), 2);
        return (lo & Vector512.Create(K1, K2, K1, K2, K1, K2, K1, K2, K1, K2, K1, K2, K1, K2, K1, K2))
            | (hi & Vector512.Create(0, K4, 0, K4, 0, K4, 0, K4, 0, K4, 0, K4, 0, K4, 0, K4));
    }

    /// <summary>One Q4_K row's 256 weights against the regrouped activation, each group's products
    /// times its scale: 16 int lanes whose sum is the row's isum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<int> Acc4(byte* qs, Vector512<short> z, Vector512<short> iA, Vector512<short> iB, Vector512<short> iC, Vector512<short> iD,
        Vector512<sbyte> yA, Vector512<sbyte> yB, Vector512<sbyte> yC, Vector512<sbyte> yD, Vector512<byte> mask)
    {
        var q0 = Vector512.Load(qs);
        var q1 = Vector512.Load(qs + 64);
        var nA = q0 & mask;
        var nB = Vector512.ShiftRightLogical(q0.AsUInt64(), 4).AsByte() & mask;
        var nC = q1 & mask;
        var nD = Vector512.ShiftRightLogical(q1.AsUInt64(), 4).AsByte() & mask;
        var acc = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(nA, yA), Avx512BW.PermuteVar32x16(z, iA));
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(nB, yB), Avx512BW.PermuteVar32x16(z, iB));
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(nC, yC), Avx512BW.PermuteVar32x16(z, iC));
        return acc + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(nD, yD), Avx512BW.PermuteVar32x16(z, iD));
    }

    /// <summary>Four rows' 16-lane sums to four 4-lane partials, one 128-bit lane per row: [A0 | A1 | A2 | A3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Fold4(Vector512<int> a0, Vector512<int> a1, Vector512<int> a2, Vector512<int> a3)
    {
        var t01 = Avx512F.Shuffle4x128(a0, a1, 0x44) + Avx512F.Shuffle4x128(a0, a1, 0xEE);
        var t23 = Avx512F.Shuffle4x128(a2, a3, 0x44) + Avx512F.Shuffle4x128(a2, a3, 0xEE);
        return Avx512F.Shuffle4x128(t01, t23, 0x88) + Avx512F.Shuffle4x128(t01, t23, 0xDD);
    }

    /// <summary>Row sums of four accumulators and of the four rows' min partials (one 128-bit lane
    /// per row): ([isum r0..r3], [summs r0..r3]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector128<int>, Vector128<int>) Reduce(Vector512<int> a0, Vector512<int> a1, Vector512<int> a2, Vector512<int> a3, Vector512<int> mins)
    {
        var u = Fold4(a0, a1, a2, a3);
        // Transpose: lanes [u0 of rows 0..3 | u1 | m0 | m1] + [u2 | u3 | m2 | m3].
        var x = Avx512F.PermuteVar16x32x2(u, Vector512.Create(0, 4, 8, 12, 1, 5, 9, 13, 16, 20, 24, 28, 17, 21, 25, 29), mins)
            + Avx512F.PermuteVar16x32x2(u, Vector512.Create(2, 6, 10, 14, 3, 7, 11, 15, 18, 22, 26, 30, 19, 23, 27, 31), mins);
        var z = x + Avx512F.Shuffle4x128(x, x, 0xB1);
        return (z.GetLower().GetLower(), z.GetUpper().GetLower());
    }

    /// <summary>vpermw indices for a register holding quarter r of both halves of a Q6_K block: its
    /// 128-bit lanes are groups 2r, 2r + 1, 8 + 2r, 9 + 2r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<short> Quarter(int r) => Vector512.Create(
        Vector256.Create(Vector128.Create((short)(2 * r)), Vector128.Create((short)(2 * r + 1))),
        Vector256.Create(Vector128.Create((short)(8 + 2 * r)), Vector128.Create((short)(9 + 2 * r))));

    /// <summary>Four Q6_K rows. Each register holds one quarter (32 values) of both 128-value halves:
    /// then all 64 qh bytes are one load and each quarter's two bits one uniform shift, and the ql
    /// bytes are regrouped by two lane shuffles per row; the activation is regrouped once for all rows.</summary>
    static void Q6_K4(byte* w, long rb, byte* a, float* y, int n)
    {
        Vector512<short> i0 = Quarter(0), i1 = Quarter(1), i2 = Quarter(2), i3 = Quarter(3);
        var sum = Vector128<float>.Zero;
        for (int i = 0; i < n / 256; i++)
        {
            var x0 = (BlockQ6_K*)(w + i * sizeof(BlockQ6_K));
            BlockQ6_K* x1 = (BlockQ6_K*)((byte*)x0 + rb), x2 = (BlockQ6_K*)((byte*)x0 + 2 * rb), x3 = (BlockQ6_K*)((byte*)x0 + 3 * rb);
            var yb = (BlockQ8_K*)a + i;
            var q = Q6Acts.Of(yb);
            // The next tile's bytes, a super-block's share (4 * 210 bytes) per step: four interleaved row
            // streams outran the hardware prefetcher on matrices larger than the L2.
            byte* next = w + R * rb + i * R * sizeof(BlockQ6_K);
            for (int p = 0; p < R * sizeof(BlockQ6_K); p += 64) Sse.Prefetch0(next + p);
            var acc0 = Q6Row(x0, q, i0, i1, i2, i3);
            var acc1 = Q6Row(x1, q, i0, i1, i2, i3);
            var acc2 = Q6Row(x2, q, i0, i1, i2, i3);
            var acc3 = Q6Row(x3, q, i0, i1, i2, i3);
            var isum = RowSums(acc0, acc1, acc2, acc3);
            var d = QuantMath.HalfToFloat(Vector128.Create((uint)x0->D, x1->D, x2->D, x3->D));
            sum += d * Vector128.Create(yb->D) * Vector128.ConvertToSingle(isum);
        }
        sum.Store(y);
    }

    /// <summary>A Q8_K super-block regrouped by quarters (Y0: y[0..31] and y[128..159], ...) and its 16-sums.</summary>
    internal readonly struct Q6Acts(Vector512<sbyte> y0, Vector512<sbyte> y1, Vector512<sbyte> y2, Vector512<sbyte> y3, Vector256<short> bsums)
    {
        public readonly Vector512<sbyte> Y0 = y0, Y1 = y1, Y2 = y2, Y3 = y3;
        public readonly Vector256<short> Bsums = bsums;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Q6Acts Of(BlockQ8_K* yb)
        {
            var y0 = Vector512.Load(yb->Qs).AsInt32();
            var y1 = Vector512.Load(yb->Qs + 64).AsInt32();
            var y2 = Vector512.Load(yb->Qs + 128).AsInt32();
            var y3 = Vector512.Load(yb->Qs + 192).AsInt32();
            return new Q6Acts(Avx512F.Shuffle4x128(y0, y2, 0x44).AsSByte(), Avx512F.Shuffle4x128(y0, y2, 0xEE).AsSByte(),
                Avx512F.Shuffle4x128(y1, y3, 0x44).AsSByte(), Avx512F.Shuffle4x128(y1, y3, 0xEE).AsSByte(), Vector256.Load(yb->Bsums));
        }
    }

    /// <summary>One Q6_K row's 16 int lanes summing to its exact isum: sc * (q + 32) * y per quarter,
    /// less 32 * sum sc * bsum (the stored offset, taken out once as ggml does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<int> Q6Row(BlockQ6_K* x, in Q6Acts a, Vector512<short> i0, Vector512<short> i1, Vector512<short> i2, Vector512<short> i3)
    {
        var low4 = Vector512.Create((byte)0x0F);
        var high2 = Vector512.Create((byte)0x30);
        var la = Vector512.Load(x->Ql).AsInt32();
        var lb = Vector512.Load(x->Ql + 64).AsInt32();
        var l0 = Avx512F.Shuffle4x128(la, lb, 0x44).AsByte(); // ql[0..31], ql[64..95]: quarters 0 (low), 2 (high)
        var l1 = Avx512F.Shuffle4x128(la, lb, 0xEE).AsByte(); // ql[32..63], ql[96..127]: quarters 1, 3
        var h = Vector512.Load(x->Qh).AsUInt64();             // quarter r in bits 2r, 2r + 1; moved to 4, 5
        var q0 = (l0 & low4) | (Vector512.ShiftLeft(h, 4).AsByte() & high2);
        var q1 = (l1 & low4) | (Vector512.ShiftLeft(h, 2).AsByte() & high2);
        var q2 = (Vector512.ShiftRightLogical(l0.AsUInt64(), 4).AsByte() & low4) | (h.AsByte() & high2);
        var q3 = (Vector512.ShiftRightLogical(l1.AsUInt64(), 4).AsByte() & low4) | (Vector512.ShiftRightLogical(h, 2).AsByte() & high2);
        var sc16 = Avx2.ConvertToVector256Int16(Vector128.Load(x->Scales));
        var sc = sc16.ToVector512Unsafe();
        var acc = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q0, a.Y0), Avx512BW.PermuteVar32x16(sc, i0));
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q1, a.Y1), Avx512BW.PermuteVar32x16(sc, i1));
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q2, a.Y2), Avx512BW.PermuteVar32x16(sc, i2));
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q3, a.Y3), Avx512BW.PermuteVar32x16(sc, i3));
        var offset = Avx2.MultiplyAddAdjacent(a.Bsums, sc16);
        return acc - Vector256.ShiftLeft(offset, 5).ToVector512();
    }

    /// <summary>The lane sums of four accumulators: [sum a0, sum a1, sum a2, sum a3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> RowSums(Vector512<int> a0, Vector512<int> a1, Vector512<int> a2, Vector512<int> a3)
    {
        var t = Avx512F.PermuteVar16x32(Fold4(a0, a1, a2, a3), Vector512.Create(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
        var s = t.GetLower() + t.GetUpper();
        return s.GetLower() + s.GetUpper();
    }
}
