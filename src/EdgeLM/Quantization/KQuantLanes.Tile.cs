// The tiles of KQuantLanes (16 Q4_K or Q6_K weight rows in the lanes x 4 Q8_K activation rows, every
// accumulator in a register) and the scalar loop whose order they keep (ReferenceDot), against which the
// tests hold every output bit for bit.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

internal static unsafe partial class KQuantLanes
{
    /// <summary>y[k * ys + r] for r &lt; rows, k &lt; na of the tile's 16 Q4_K rows (up) against acts.</summary>
    static void TileQ4_K(byte* up, int nb, in Acts acts, float* y, int ys, int rows, int na)
    {
        byte* a0 = acts.A0, a1 = acts.A1, a2 = acts.A2, a3 = acts.A3;
        byte* p0 = acts.P0, p1 = acts.P1, p2 = acts.P2, p3 = acts.P3;
        Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int b = 0; b < nb; b++, up += Stride, a0 += YB, a1 += YB, a2 += YB, a3 += YB, p0 += 16, p1 += 16, p2 += 16, p3 += 16)
        {
            Vector512<int> i0 = default, i1 = default, i2 = default, i3 = default; // sum_g sc_g * sum(q y)
            Vector512<int> m0 = default, m1 = default, m2 = default, m3 = default; // -sum_g m_g * bsum'_g
            for (int g = 0; g < 8; g++)
            {
                Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default;
                int o = YQs + 32 * g;
                Four(up + 512 * g, a0 + o, a1 + o, a2 + o, a3 + o, ref s0, ref s1, ref s2, ref s3);
                Four(up + 512 * g + 256, a0 + o + 16, a1 + o + 16, a2 + o + 16, a3 + o + 16, ref s0, ref s1, ref s2, ref s3);
                var sc = Vector512.Load((short*)(up + ScalesAt + 64 * g));
                i0 += Avx512BW.MultiplyAddAdjacent(s0, sc); i1 += Avx512BW.MultiplyAddAdjacent(s1, sc);
                i2 += Avx512BW.MultiplyAddAdjacent(s2, sc); i3 += Avx512BW.MultiplyAddAdjacent(s3, sc);
            }
            for (int p = 0; p < 4; p++)
            {
                // Rows' (m_2p, m_2p + 1) against the activation's sums over groups 2p, 2p + 1.
                var m = Vector512.Load((short*)(up + PairsAt + 64 * p));
                m0 -= Avx512BW.MultiplyAddAdjacent(m, Vector512.Create(*(int*)(p0 + 4 * p)).AsInt16());
                m1 -= Avx512BW.MultiplyAddAdjacent(m, Vector512.Create(*(int*)(p1 + 4 * p)).AsInt16());
                m2 -= Avx512BW.MultiplyAddAdjacent(m, Vector512.Create(*(int*)(p2 + 4 * p)).AsInt16());
                m3 -= Avx512BW.MultiplyAddAdjacent(m, Vector512.Create(*(int*)(p3 + 4 * p)).AsInt16());
            }
            var dw = Vector512.Load((float*)(up + DAt));
            var dm = Vector512.Load((float*)(up + DminAt));
            f0 = Finish(i0, m0, dw, dm, *(float*)a0, f0); f1 = Finish(i1, m1, dw, dm, *(float*)a1, f1);
            f2 = Finish(i2, m2, dw, dm, *(float*)a2, f2); f3 = Finish(i3, m3, dw, dm, *(float*)a3, f3);
        }
        Store(f0, y, rows);
        if (na > 1) Store(f1, y + ys, rows);
        if (na > 2) Store(f2, y + 2L * ys, rows);
        if (na > 3) Store(f3, y + 3L * ys, rows);
    }

    /// <summary>acc = fma(isum, d * dy, acc), then fma(-summs, dmin * dy, acc): ReferenceDot's order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Finish(Vector512<int> isum, Vector512<int> negSumms, Vector512<float> d, Vector512<float> dmin, float dy, Vector512<float> acc)
    {
        var vy = Vector512.Create(dy);
        acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(isum), d * vy, acc);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(negSumms), dmin * vy, acc);
    }

    /// <summary>y[k * ys + r] for r &lt; rows, k &lt; na of the tile's 16 Q6_K rows (up) against acts.</summary>
    static void TileQ6_K(byte* up, int nb, in Acts acts, float* y, int ys, int rows, int na)
    {
        byte* a0 = acts.A0, a1 = acts.A1, a2 = acts.A2, a3 = acts.A3;
        Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int b = 0; b < nb; b++, up += Stride, a0 += YB, a1 += YB, a2 += YB, a3 += YB)
        {
            Vector512<int> i0 = default, i1 = default, i2 = default, i3 = default; // sum_g sc_g * sum(u y)
            Vector512<int> o0 = default, o1 = default, o2 = default, o3 = default; // sum_g sc_g * bsum_g
            for (int g = 0; g < 16; g++)
            {
                // Group g (16 elements) is chunks 4 (g & 1) .. + 3 of column g / 2: two int16 sums of two chunks.
                byte* u = up + 256 * g;
                int o = YQs + 16 * g;
                var sc = Vector512.Load((short*)(up + ScalesAt + 64 * g));
                Two(u, a0 + o, a1 + o, a2 + o, a3 + o, sc, ref i0, ref i1, ref i2, ref i3);
                Two(u + 128, a0 + o + 8, a1 + o + 8, a2 + o + 8, a3 + o + 8, sc, ref i0, ref i1, ref i2, ref i3);
            }
            for (int p = 0; p < 8; p++)
            {
                var sp = Vector512.Load((short*)(up + PairsAt + 64 * p));
                int ob = YBsums + 4 * p;
                o0 += Avx512BW.MultiplyAddAdjacent(sp, Vector512.Create(*(int*)(a0 + ob)).AsInt16());
                o1 += Avx512BW.MultiplyAddAdjacent(sp, Vector512.Create(*(int*)(a1 + ob)).AsInt16());
                o2 += Avx512BW.MultiplyAddAdjacent(sp, Vector512.Create(*(int*)(a2 + ob)).AsInt16());
                o3 += Avx512BW.MultiplyAddAdjacent(sp, Vector512.Create(*(int*)(a3 + ob)).AsInt16());
            }
            var dw = Vector512.Load((float*)(up + DAt));
            f0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i0 - (o0 << 5)), dw * Vector512.Create(*(float*)a0), f0);
            f1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i1 - (o1 << 5)), dw * Vector512.Create(*(float*)a1), f1);
            f2 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i2 - (o2 << 5)), dw * Vector512.Create(*(float*)a2), f2);
            f3 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i3 - (o3 << 5)), dw * Vector512.Create(*(float*)a3), f3);
        }
        Store(f0, y, rows);
        if (na > 1) Store(f1, y + ys, rows);
        if (na > 2) Store(f2, y + 2L * ys, rows);
        if (na > 3) Store(f3, y + 3L * ys, rows);
    }

    /// <summary>Two chunks (8 elements) of u < 64 against the four activations, widened by the group scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Two(byte* u, byte* a0, byte* a1, byte* a2, byte* a3, Vector512<short> sc,
        ref Vector512<int> i0, ref Vector512<int> i1, ref Vector512<int> i2, ref Vector512<int> i3)
    {
        var w0 = Vector512.Load(u);
        var w1 = Vector512.Load(u + 64);
        var s0 = Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(*(int*)a0).AsSByte()) + Avx512BW.MultiplyAddAdjacent(w1, Vector512.Create(*(int*)(a0 + 4)).AsSByte());
        var s1 = Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(*(int*)a1).AsSByte()) + Avx512BW.MultiplyAddAdjacent(w1, Vector512.Create(*(int*)(a1 + 4)).AsSByte());
        var s2 = Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(*(int*)a2).AsSByte()) + Avx512BW.MultiplyAddAdjacent(w1, Vector512.Create(*(int*)(a2 + 4)).AsSByte());
        var s3 = Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(*(int*)a3).AsSByte()) + Avx512BW.MultiplyAddAdjacent(w1, Vector512.Create(*(int*)(a3 + 4)).AsSByte());
        i0 += Avx512BW.MultiplyAddAdjacent(s0, sc); i1 += Avx512BW.MultiplyAddAdjacent(s1, sc);
        i2 += Avx512BW.MultiplyAddAdjacent(s2, sc); i3 += Avx512BW.MultiplyAddAdjacent(s3, sc);
    }

    /// <summary>Four chunks (16 elements) of one column against the four activations' matching bytes,
    /// written out so that every offset is a constant of the addressing mode.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Four(byte* u, byte* a0, byte* a1, byte* a2, byte* a3,
        ref Vector512<short> s0, ref Vector512<short> s1, ref Vector512<short> s2, ref Vector512<short> s3)
    {
        Chunk(u, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
        Chunk(u + 64, a0 + 4, a1 + 4, a2 + 4, a3 + 4, ref s0, ref s1, ref s2, ref s3);
        Chunk(u + 128, a0 + 8, a1 + 8, a2 + 8, a3 + 8, ref s0, ref s1, ref s2, ref s3);
        Chunk(u + 192, a0 + 12, a1 + 12, a2 + 12, a3 + 12, ref s0, ref s1, ref s2, ref s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Chunk(byte* u, byte* a0, byte* a1, byte* a2, byte* a3,
        ref Vector512<short> s0, ref Vector512<short> s1, ref Vector512<short> s2, ref Vector512<short> s3)
    {
        var w = Vector512.Load(u);
        s0 += Avx512BW.MultiplyAddAdjacent(w, Vector512.Create(*(int*)a0).AsSByte());
        s1 += Avx512BW.MultiplyAddAdjacent(w, Vector512.Create(*(int*)a1).AsSByte());
        s2 += Avx512BW.MultiplyAddAdjacent(w, Vector512.Create(*(int*)a2).AsSByte());
        s3 += Avx512BW.MultiplyAddAdjacent(w, Vector512.Create(*(int*)a3).AsSByte());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector512<float> f, float* y, int rows)
    {
        if (rows == R)
        {
            f.Store(y);
            return;
        }
        float* tmp = stackalloc float[R];
        f.Store(tmp);
        for (int r = 0; r < rows; r++) y[r] = tmp[r];
    }

    /// <summary>The scalar order every tile output keeps, per super-block: the exact integer sums isum
    /// (sum over groups of scale x sum(q y)) and, for Q4_K, summs (sum over groups of min x the group's
    /// activation sum), then acc = fma(isum, d * dy, acc) and, Q4_K only, acc = fma(-summs, dmin * dy, acc).
    /// For Q4_K and Q6_K weights against Q8_K activations.</summary>
    internal static float ReferenceDot(GgmlType type, byte* w, byte* a, int n)
    {
        float acc = 0;
        var y = (BlockQ8_K*)a;
        for (int i = 0; i < n / QK; i++, y++)
        {
            if (type == GgmlType.Q4_K)
            {
                var x = (BlockQ4_K*)w + i;
                int isum = 0, summs = 0;
                for (int g = 0; g < 8; g++)
                {
                    KQuantSearch.GetScaleMinK4(g, x->Scales, out int sc, out int m);
                    summs += m * (y->Bsums[2 * g] + y->Bsums[2 * g + 1]);
                    int sub = 0;
                    for (int l = 0; l < 32; l++) sub += ((x->Qs[32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF) * y->Qs[32 * g + l];
                    isum += sc * sub;
                }
                acc = MathF.FusedMultiplyAdd(isum, QuantMath.HalfToFloat(x->D) * y->D, acc);
                acc = MathF.FusedMultiplyAdd(-summs, QuantMath.HalfToFloat(x->Dmin) * y->D, acc);
            }
            else if (type == GgmlType.Q6_K)
            {
                var x = (BlockQ6_K*)w + i;
                int isum = 0;
                for (int g = 0; g < 16; g++)
                {
                    int sub = 0;
                    for (int e = 16 * g; e < 16 * g + 16; e++) sub += Q6_K.Quant(x, e) * y->Qs[e];
                    isum += x->Scales[g] * sub;
                }
                acc = MathF.FusedMultiplyAdd(isum, QuantMath.HalfToFloat(x->D) * y->D, acc);
            }
            else throw new ArgumentException($"{type} is not a K-quant of this kernel");
        }
        return acc;
    }
}
