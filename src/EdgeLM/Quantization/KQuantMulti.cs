// AVX-512 tiles of Q4_K and Q6_K dots: one weight row against up to four activation rows per pass.
// Each super-block's weights are unpacked once (nibbles shifted into activation order, 6-bit values
// assembled, group scales spread to 16-bit lanes) and used against every activation of the tile.
// Per (row, activation) the integer sums, the min/offset corrections and the float combine are those
// of KQuantAvx512.DotQ4_K / DotQ6_K in the same order, so outputs are bit-identical to the single dot
// (and so to the scalar reference). Not a general GEMM; VecDotRows (one activation) keeps the single dot.
// Spec: ggml-quants.c block_q4_K / block_q6_K layouts, get_scale_min_k4.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class KQuantMulti
{
    const int Tile = 4; // activations per pass

    /// <summary>y[t * ys + r] = dot(W[r], x_t); see Block32Multi.Rows.</summary>
    public static void RowsQ4_K(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n)
    {
        if (na == 1)
        {
            for (int r = 0; r < rows; r++) y[r] = KQuantAvx512.DotQ4_K(w + r * rb, a, n);
            return;
        }
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < na; t += Tile) Q4_K(w + r * rb, a + t * ab, ab, Math.Min(Tile, na - t), y + (long)t * ys + r, ys, n);
    }

    public static void RowsQ6_K(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n)
    {
        if (na == 1)
        {
            for (int r = 0; r < rows; r++) y[r] = KQuantAvx512.DotQ6_K(w + r * rb, a, n);
            return;
        }
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < na; t += Tile) Q6_K(w + r * rb, a + t * ab, ab, Math.Min(Tile, na - t), y + (long)t * ys + r, ys, n);
    }

    static Vector512<ulong> Halves(ulong lo, ulong hi) => Vector512.Create(Vector256.Create(lo), Vector256.Create(hi));

    static Vector512<short> Spread2(int s0, int s1) => Vector512.Create(Vector256.Create((short)s0), Vector256.Create((short)s1));

    static Vector512<short> Spread4(int s) => Vector512.Create(
        Vector256.Create(Vector128.Create((short)s), Vector128.Create((short)(s + 1))),
        Vector256.Create(Vector128.Create((short)(s + 2)), Vector128.Create((short)(s + 3))));

    /// <summary>32 bytes in both halves, copied in registers (see KQuantAvx512.Broadcast256).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<ulong> Broadcast256(byte* p)
    {
        var v = Vector256.Load((ulong*)p);
        return v.ToVector512Unsafe().WithUpper(v);
    }

    /// <summary>One Q4_K row against cnt (1..4) activations ab bytes apart.</summary>
    static void Q4_K(byte* w, byte* a, long ab, int cnt, float* y, int ys, int n)
    {
        const uint K1 = 0x3f3f3f3f, K2 = 0x0f0f0f0f, K3 = 0x03030303;
        var mask = Vector512.Create((byte)0x0F);
        var shift = Halves(0, 4);
        float* sumf = stackalloc float[Tile];
        for (int t = 0; t < cnt; t++) sumf[t] = 0;
        for (int i = 0; i < n / 256; i++)
        {
            var x = (BlockQ4_K*)w + i;
            uint* u = (uint*)x->Scales;
            uint u0 = u[0], u1 = u[1], u2 = u[2];
            ulong sc = (u0 & K1) | ((ulong)((u2 & K2) | (((u0 >> 6) & K3) << 4)) << 32);
            ulong mn = (u1 & K1) | ((ulong)(((u2 >> 4) & K2) | (((u1 >> 6) & K3) << 4)) << 32);
            var mins = Avx2.ConvertToVector256Int32(Vector128.CreateScalar(mn).AsByte());
            var scales = Avx2.ConvertToVector256Int16(Vector128.CreateScalar(sc).AsByte()).ToVector512Unsafe();
            var n0 = Avx512F.ShiftRightLogicalVariable(Broadcast256(x->Qs), shift).AsByte() & mask;
            var n1 = Avx512F.ShiftRightLogicalVariable(Broadcast256(x->Qs + 32), shift).AsByte() & mask;
            var n2 = Avx512F.ShiftRightLogicalVariable(Broadcast256(x->Qs + 64), shift).AsByte() & mask;
            var n3 = Avx512F.ShiftRightLogicalVariable(Broadcast256(x->Qs + 96), shift).AsByte() & mask;
            var s0 = Avx512BW.PermuteVar32x16(scales, Spread2(0, 1));
            var s1 = Avx512BW.PermuteVar32x16(scales, Spread2(2, 3));
            var s2 = Avx512BW.PermuteVar32x16(scales, Spread2(4, 5));
            var s3 = Avx512BW.PermuteVar32x16(scales, Spread2(6, 7));
            float dx = QuantMath.HalfToFloat(x->D), dmin = QuantMath.HalfToFloat(x->Dmin);
            for (int t = 0; t < cnt; t++)
            {
                var yb = (BlockQ8_K*)(a + t * ab) + i;
                var pairSums = Avx2.MultiplyAddAdjacent(Vector256.Load(yb->Bsums), Vector256<short>.One);
                int summs = Vector256.Sum(pairSums * mins);
                var acc = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n0, Vector512.Load(yb->Qs)), s0);
                acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n1, Vector512.Load(yb->Qs + 64)), s1);
                acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n2, Vector512.Load(yb->Qs + 128)), s2);
                acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n3, Vector512.Load(yb->Qs + 192)), s3);
                int isum = Vector512.Sum(acc);
                sumf[t] += dx * yb->D * isum - dmin * yb->D * summs;
            }
        }
        for (int t = 0; t < cnt; t++) y[(long)t * ys] = sumf[t];
    }

    /// <summary>One Q6_K row against cnt (1..4) activations ab bytes apart.</summary>
    static void Q6_K(byte* w, byte* a, long ab, int cnt, float* y, int ys, int n)
    {
        var low4 = Vector512.Create((byte)0x0F);
        var high2 = Vector512.Create((byte)0x30);
        Vector512<ulong> up = Halves(4, 2), down = Halves(0, 2);
        float* sumf = stackalloc float[Tile];
        for (int t = 0; t < cnt; t++) sumf[t] = 0;
        for (int i = 0; i < n / 256; i++)
        {
            var x = (BlockQ6_K*)w + i;
            var sc16 = Avx2.ConvertToVector256Int16(Vector128.Load(x->Scales));
            var scales = sc16.ToVector512Unsafe();
            var (q0, q1) = Half(x->Ql, x->Qh, low4, high2, up, down);
            var (q2, q3) = Half(x->Ql + 64, x->Qh + 32, low4, high2, up, down);
            var s0 = Avx512BW.PermuteVar32x16(scales, Spread4(0));
            var s1 = Avx512BW.PermuteVar32x16(scales, Spread4(4));
            var s2 = Avx512BW.PermuteVar32x16(scales, Spread4(8));
            var s3 = Avx512BW.PermuteVar32x16(scales, Spread4(12));
            float dx = QuantMath.HalfToFloat(x->D);
            for (int t = 0; t < cnt; t++)
            {
                var yb = (BlockQ8_K*)(a + t * ab) + i;
                int offset = Vector256.Sum(Avx2.MultiplyAddAdjacent(Vector256.Load(yb->Bsums), sc16));
                var acc = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q0, Vector512.Load(yb->Qs)), s0)
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q1, Vector512.Load(yb->Qs + 64)), s1);
                acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q2, Vector512.Load(yb->Qs + 128)), s2)
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q3, Vector512.Load(yb->Qs + 192)), s3);
                int isum = Vector512.Sum(acc) - 32 * offset;
                sumf[t] += dx * yb->D * isum;
            }
        }
        for (int t = 0; t < cnt; t++) y[(long)t * ys] = sumf[t];
    }

    /// <summary>128 weights as two registers of 64 unsigned 6-bit values (see KQuantAvx512.Half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<byte>, Vector512<byte>) Half(byte* ql, byte* qh, Vector512<byte> low4, Vector512<byte> high2,
        Vector512<ulong> up, Vector512<ulong> down)
    {
        var l = Vector512.Load(ql);
        var h = Broadcast256(qh);
        var q01 = (l & low4) | (Avx512F.ShiftLeftLogicalVariable(h, up).AsByte() & high2);
        var q23 = (Vector512.ShiftRightLogical(l.AsUInt64(), 4).AsByte() & low4) | (Avx512F.ShiftRightLogicalVariable(h, down).AsByte() & high2);
        return (q01, q23);
    }
}
