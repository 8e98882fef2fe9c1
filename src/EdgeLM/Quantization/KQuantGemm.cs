// Blocked matrix multiply (prompt processing) of Q4_K and Q6_K weights against Q8_K activations at 512
// bits: tiles of 4 weight rows x up to 64 activation rows. Each super-block of the four rows is
// unpacked once per tile into a 2 KB scratch (nibbles or 6-bit values in activation order, group
// scales spread to 16-bit lanes, the header's fp16 scales widened), then every activation of the tile
// runs against it with the multiply-adds reading the scratch, and the four rows' sums are reduced and
// combined together as in KQuantRows (one 128-bit lane per row, a 4-lane float combine per activation).
// Per (row, activation) the integer sums are exact and the float expression and order are the scalar
// reference's, so outputs are bit-identical to Q4_K.VecDot / Q6_K.VecDot and to the decode kernels.
// Not the decode path (one activation goes to KQuantRows); rows outside whole tiles of four take
// KQuantMulti. Spec: ggml-quants.c block_q4_K / block_q6_K, get_scale_min_k4.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class KQuantGemm
{
    const int R = 4, TC = 64; // weight rows per tile, activations per tile (their running sums stay in L1)

    /// <summary>y[t * ys + r] = dot(W[r], x_t) for r in [0, rows), t in [0, na) (Block32Multi.Rows's signature).</summary>
    public static void RowsQ4_K(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n) =>
        Rows(w, rb, rows, a, ab, na, y, ys, n, q6: false);

    public static void RowsQ6_K(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n) =>
        Rows(w, rb, rows, a, ab, na, y, ys, n, q6: true);

    static void Rows(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n, bool q6)
    {
        if (na == 1)
        {
            if (q6) KQuantRows.RowsQ6_K(w, rb, rows, a, y, n);
            else KQuantRows.RowsQ4_K(w, rb, rows, a, y, n);
            return;
        }
        byte* raw = stackalloc byte[36 * 64 + 64];
        var scratch = (Vector512<short>*)(((nint)raw + 63) & ~(nint)63);
        var sums = stackalloc Vector128<float>[TC];
        int r = 0;
        for (; r + R <= rows; r += R)
            for (int t = 0; t < na; t += TC)
            {
                int cnt = Math.Min(TC, na - t);
                if (q6) TileQ6_K(w + r * rb, rb, a + t * ab, ab, cnt, scratch, sums, n);
                else TileQ4_K(w + r * rb, rb, a + t * ab, ab, cnt, scratch, sums, n);
                for (int k = 0; k < cnt; k++)
                    for (int j = 0; j < R; j++) y[(long)(t + k) * ys + r + j] = sums[k].GetElement(j);
            }
        if (r < rows)
        {
            if (q6) KQuantMulti.RowsQ6_K(w + r * rb, rb, rows - r, a, ab, na, y + r, ys, n);
            else KQuantMulti.RowsQ4_K(w + r * rb, rb, rows - r, a, ab, na, y + r, ys, n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Spread2(int s0, int s1) => Vector512.Create(Vector256.Create((short)s0), Vector256.Create((short)s1));

    /// <summary>Four Q4_K rows against cnt activations. Scratch: nibbles of row k, register j at 4k + j,
    /// their spread scales at 16 + 4k + j, the rows' 16-bit scales/mins (KQuantRows layout) at 32, 33.</summary>
    static void TileQ4_K(byte* w, long rb, byte* a, long ab, int cnt, Vector512<short>* s, Vector128<float>* sums, int n)
    {
        var mask = Vector512.Create((byte)0x0F);
        for (int t = 0; t < cnt; t++) sums[t] = Vector128<float>.Zero;
        for (int i = 0; i < n / 256; i++)
        {
            byte* x0 = w + i * sizeof(BlockQ4_K);
            var hdr = KQuantRows.Gather4(x0, rb);
            var sm = KQuantRows.UnpackScalesMins(hdr);
            var zLo = Avx512BW.ConvertToVector512Int16(sm.GetLower().AsByte());
            var zHi = Avx512BW.ConvertToVector512Int16(sm.GetUpper().AsByte());
            s[32] = zLo;
            s[33] = zHi;
            for (int k = 0; k < R; k++)
            {
                byte* qs = x0 + k * rb + 16;
                var q0 = Vector512.Load(qs);
                var q1 = Vector512.Load(qs + 64);
                s[4 * k] = (q0 & mask).AsInt16();
                s[4 * k + 1] = (Vector512.ShiftRightLogical(q0.AsUInt64(), 4).AsByte() & mask).AsInt16();
                s[4 * k + 2] = (q1 & mask).AsInt16();
                s[4 * k + 3] = (Vector512.ShiftRightLogical(q1.AsUInt64(), 4).AsByte() & mask).AsInt16();
                var z = k < 2 ? zLo : zHi;
                int o = 16 * (k & 1);
                s[16 + 4 * k] = Avx512BW.PermuteVar32x16(z, Spread2(o, o + 2));
                s[16 + 4 * k + 1] = Avx512BW.PermuteVar32x16(z, Spread2(o + 1, o + 3));
                s[16 + 4 * k + 2] = Avx512BW.PermuteVar32x16(z, Spread2(o + 4, o + 6));
                s[16 + 4 * k + 3] = Avx512BW.PermuteVar32x16(z, Spread2(o + 5, o + 7));
            }
            var (d, dmin) = KQuantRows.SuperScales(hdr);
            for (int t = 0; t < cnt; t++)
                sums[t] += ActQ4_K((BlockQ8_K*)(a + t * ab) + i, s, d, dmin);
        }
    }

    /// <summary>One activation's super-block against the four unpacked rows: the four rows' terms
    /// d * yd * isum - dmin * yd * summs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> ActQ4_K(BlockQ8_K* yb, Vector512<short>* s, Vector128<float> d, Vector128<float> dmin)
    {
        var y0 = Vector512.Load(yb->Qs).AsInt32();
        var y1 = Vector512.Load(yb->Qs + 64).AsInt32();
        var y2 = Vector512.Load(yb->Qs + 128).AsInt32();
        var y3 = Vector512.Load(yb->Qs + 192).AsInt32();
        var yA = Avx512F.Shuffle4x128(y0, y1, 0x44).AsSByte();
        var yB = Avx512F.Shuffle4x128(y0, y1, 0xEE).AsSByte();
        var yC = Avx512F.Shuffle4x128(y2, y3, 0x44).AsSByte();
        var yD = Avx512F.Shuffle4x128(y2, y3, 0xEE).AsSByte();
        var acc0 = Acc(s, 0, yA, yB, yC, yD);
        var acc1 = Acc(s, 1, yA, yB, yC, yD);
        var acc2 = Acc(s, 2, yA, yB, yC, yD);
        var acc3 = Acc(s, 3, yA, yB, yC, yD);
        var p8 = KQuantRows.BsumPairs(yb);
        var mins = Avx512F.Shuffle4x128(Avx512BW.MultiplyAddAdjacent(s[32], p8), Avx512BW.MultiplyAddAdjacent(s[33], p8), 0xDD);
        var (isum, summs) = KQuantRows.Reduce(acc0, acc1, acc2, acc3, mins);
        var yd = Vector128.Create(yb->D);
        return d * yd * Vector128.ConvertToSingle(isum) - dmin * yd * Vector128.ConvertToSingle(summs);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Acc(Vector512<short>* s, int k, Vector512<sbyte> yA, Vector512<sbyte> yB, Vector512<sbyte> yC, Vector512<sbyte> yD)
    {
        var acc = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(s[4 * k].AsByte(), yA), s[16 + 4 * k]);
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(s[4 * k + 1].AsByte(), yB), s[16 + 4 * k + 1]);
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(s[4 * k + 2].AsByte(), yC), s[16 + 4 * k + 2]);
        return acc + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(s[4 * k + 3].AsByte(), yD), s[16 + 4 * k + 3]);
    }

    /// <summary>Four Q6_K rows against cnt activations. Scratch: row k's 6-bit values (quarters 0-1,
    /// 2-3 of each half, KQuantAvx512.Half's registers) at 4k + j, their spread scales at 16 + 4k + j,
    /// the row's 16-bit scales at 32 + k (for the offset term).</summary>
    static void TileQ6_K(byte* w, long rb, byte* a, long ab, int cnt, Vector512<short>* s, Vector128<float>* sums, int n)
    {
        for (int t = 0; t < cnt; t++) sums[t] = Vector128<float>.Zero;
        for (int i = 0; i < n / 256; i++)
        {
            byte* x0 = w + i * sizeof(BlockQ6_K);
            for (int k = 0; k < R; k++) KQuantAvx512.UnpackQ6_K((BlockQ6_K*)(x0 + k * rb), s + 4 * k, s + 16 + 4 * k, s + 32 + k);
            var d = QuantMath.HalfToFloat(Vector128.Create((uint)((BlockQ6_K*)x0)->D, ((BlockQ6_K*)(x0 + rb))->D,
                ((BlockQ6_K*)(x0 + 2 * rb))->D, ((BlockQ6_K*)(x0 + 3 * rb))->D));
            for (int t = 0; t < cnt; t++)
            {
                var yb = (BlockQ8_K*)(a + t * ab) + i;
                var bsums = Vector256.Load(yb->Bsums);
                var y0 = Vector512.Load(yb->Qs);
                var y1 = Vector512.Load(yb->Qs + 64);
                var y2 = Vector512.Load(yb->Qs + 128);
                var y3 = Vector512.Load(yb->Qs + 192);
                var acc0 = AccQ6(s, 0, y0, y1, y2, y3, bsums);
                var acc1 = AccQ6(s, 1, y0, y1, y2, y3, bsums);
                var acc2 = AccQ6(s, 2, y0, y1, y2, y3, bsums);
                var acc3 = AccQ6(s, 3, y0, y1, y2, y3, bsums);
                var isum = KQuantRows.RowSums(acc0, acc1, acc2, acc3);
                sums[t] += d * Vector128.Create(yb->D) * Vector128.ConvertToSingle(isum);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> AccQ6(Vector512<short>* s, int k, Vector512<sbyte> y0, Vector512<sbyte> y1, Vector512<sbyte> y2, Vector512<sbyte> y3, Vector256<short> bsums)
    {
        var acc = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(s[4 * k].AsByte(), y0), s[16 + 4 * k]);
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(s[4 * k + 1].AsByte(), y1), s[16 + 4 * k + 1]);
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(s[4 * k + 2].AsByte(), y2), s[16 + 4 * k + 2]);
        acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(s[4 * k + 3].AsByte(), y3), s[16 + 4 * k + 3]);
        var offset = Avx2.MultiplyAddAdjacent(bsums, s[32 + k].GetLower());
        return acc - Vector256.ShiftLeft(offset, 5).ToVector512();
    }
}
