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
            // Lane r: [d | dmin, u0, u1, u2] of row r (the block's first 16 bytes).
            var hdr = Vector512.Create(Vector256.Create(Vector128.Load(x0), Vector128.Load(x1)), Vector256.Create(Vector128.Load(x2), Vector128.Load(x3))).AsUInt32();
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
            var pairs = Avx2.MultiplyAddAdjacent(Vector256.Load(yb->Bsums), Vector256<short>.One);
            var p8 = Vector512.Create(Sse2.PackSignedSaturate(pairs.GetLower(), pairs.GetUpper()));
            var mLo = Avx512BW.MultiplyAddAdjacent(zLo, p8);
            var mHi = Avx512BW.MultiplyAddAdjacent(zHi, p8);
            // Lanes 1 and 3 of each hold the mins' products (lanes 0 and 2 the scales', unused).
            var mins = Avx512F.Shuffle4x128(mLo, mHi, 0xDD);
            var (isum, summs) = Reduce(acc0, acc1, acc2, acc3, mins);

            var h = Avx512F.PermuteVar16x32(hdr, Vector512.Create(0u, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12)).GetLower().GetLower();
            var yd = Vector128.Create(yb->D);
            sum += QuantMath.HalfToFloat(h) * yd * Vector128.ConvertToSingle(isum)
                - QuantMath.HalfToFloat(h >> 16) * yd * Vector128.ConvertToSingle(summs);
        }
        sum.Store(y);
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
    static Vector512<int> Acc4(byte* qs, Vector512<short> z, Vector512<short> iA, Vector512<short> iB, Vector512<short> iC, Vector512<short> iD,
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

    /// <summary>Four Q6_K rows: each row unpacked as KQuantAvx512.DotQ6_K does, its offset term
    /// (32 * sum sc * bsum) taken out of its lanes before the shared reduction.</summary>
    static void Q6_K4(byte* w, long rb, byte* a, float* y, int n)
    {
        var sum = Vector128<float>.Zero;
        for (int i = 0; i < n / 256; i++)
        {
            var x0 = (BlockQ6_K*)(w + i * sizeof(BlockQ6_K));
            BlockQ6_K* x1 = (BlockQ6_K*)((byte*)x0 + rb), x2 = (BlockQ6_K*)((byte*)x0 + 2 * rb), x3 = (BlockQ6_K*)((byte*)x0 + 3 * rb);
            var yb = (BlockQ8_K*)a + i;
            var bsums = Vector256.Load(yb->Bsums);
            var acc0 = KQuantAvx512.Q6_KLanes(x0, yb, bsums);
            var acc1 = KQuantAvx512.Q6_KLanes(x1, yb, bsums);
            var acc2 = KQuantAvx512.Q6_KLanes(x2, yb, bsums);
            var acc3 = KQuantAvx512.Q6_KLanes(x3, yb, bsums);
            var isum = RowSums(acc0, acc1, acc2, acc3);
            var d = QuantMath.HalfToFloat(Vector128.Create((uint)x0->D, x1->D, x2->D, x3->D));
            sum += d * Vector128.Create(yb->D) * Vector128.ConvertToSingle(isum);
        }
        sum.Store(y);
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
