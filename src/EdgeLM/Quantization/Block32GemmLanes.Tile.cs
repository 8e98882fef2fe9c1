// The tile of Block32GemmLanes (16 weight rows in the lanes x 4 activation rows, every accumulator in a
// register) and the scalar loop whose order it keeps (ReferenceDot), against which the tests hold every
// output bit for bit.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

internal static unsafe partial class Block32GemmLanes
{
    /// <summary>y[k * ys + r] for r &lt; rows, k &lt; na of the tile's 16 rows (up, wd) against acts.</summary>
    static void Tile<T>(byte* up, float* wd, int nb, in Acts acts, float* y, int ys, int rows, int na) where T : ILanes32
    {
        byte* a0 = acts.A0 + 2, a1 = acts.A1 + 2, a2 = acts.A2 + 2, a3 = acts.A3 + 2; // the blocks' quants
        int* p0 = acts.P0, p1 = acts.P1, p2 = acts.P2, p3 = acts.P3;
        var one = Vector512<short>.One;
        Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int b = 0; b < nb; b++, up += T.Planes * Chunks, a0 += YB, a1 += YB, a2 += YB, a3 += YB, p0 += 2, p1 += 2, p2 += 2, p3 += 2)
        {
            Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default;
            Vector512<int> i0, i1, i2, i3;
            Four(up, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
            if (T.Group == 4)
            {
                // Q5_0: widen after four chunks, before the int16 sums can overflow.
                i0 = Avx512BW.MultiplyAddAdjacent(s0, one); i1 = Avx512BW.MultiplyAddAdjacent(s1, one);
                i2 = Avx512BW.MultiplyAddAdjacent(s2, one); i3 = Avx512BW.MultiplyAddAdjacent(s3, one);
                s0 = s1 = s2 = s3 = default;
                Four(up + 256, a0 + 16, a1 + 16, a2 + 16, a3 + 16, ref s0, ref s1, ref s2, ref s3);
                i0 += Avx512BW.MultiplyAddAdjacent(s0, one); i1 += Avx512BW.MultiplyAddAdjacent(s1, one);
                i2 += Avx512BW.MultiplyAddAdjacent(s2, one); i3 += Avx512BW.MultiplyAddAdjacent(s3, one);
            }
            else
            {
                Four(up + 256, a0 + 16, a1 + 16, a2 + 16, a3 + 16, ref s0, ref s1, ref s2, ref s3);
                var m = T.Planes == 2 ? Vector512.Create((short)16) : one; // Q8_0: plane 0 is the high nibble
                i0 = Avx512BW.MultiplyAddAdjacent(s0, m); i1 = Avx512BW.MultiplyAddAdjacent(s1, m);
                i2 = Avx512BW.MultiplyAddAdjacent(s2, m); i3 = Avx512BW.MultiplyAddAdjacent(s3, m);
                if (T.Planes == 2)
                {
                    s0 = s1 = s2 = s3 = default;
                    Four(up + Chunks, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
                    Four(up + Chunks + 256, a0 + 16, a1 + 16, a2 + 16, a3 + 16, ref s0, ref s1, ref s2, ref s3);
                    i0 += Avx512BW.MultiplyAddAdjacent(s0, one); i1 += Avx512BW.MultiplyAddAdjacent(s1, one);
                    i2 += Avx512BW.MultiplyAddAdjacent(s2, one); i3 += Avx512BW.MultiplyAddAdjacent(s3, one);
                }
            }
            var dw = Vector512.Load(wd + R * b);
            f0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i0 - Vector512.Create(p0[1])), dw * Vector512.Create(*(float*)p0), f0);
            f1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i1 - Vector512.Create(p1[1])), dw * Vector512.Create(*(float*)p1), f1);
            f2 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i2 - Vector512.Create(p2[1])), dw * Vector512.Create(*(float*)p2), f2);
            f3 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i3 - Vector512.Create(p3[1])), dw * Vector512.Create(*(float*)p3), f3);
        }
        Store(f0, y, rows);
        if (na > 1) Store(f1, y + ys, rows);
        if (na > 2) Store(f2, y + 2L * ys, rows);
        if (na > 3) Store(f3, y + 3L * ys, rows);
    }

    /// <summary>Four chunks (16 elements) of one plane against the four activations' matching bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Four(byte* u, byte* a0, byte* a1, byte* a2, byte* a3,
        ref Vector512<short> s0, ref Vector512<short> s1, ref Vector512<short> s2, ref Vector512<short> s3)
    {
        for (int j = 0; j < 16; j += 4)
        {
            var w = Vector512.Load(u + 16 * j);
            s0 += Avx512BW.MultiplyAddAdjacent(w, Vector512.Create(*(int*)(a0 + j)).AsSByte());
            s1 += Avx512BW.MultiplyAddAdjacent(w, Vector512.Create(*(int*)(a1 + j)).AsSByte());
            s2 += Avx512BW.MultiplyAddAdjacent(w, Vector512.Create(*(int*)(a2 + j)).AsSByte());
            s3 += Avx512BW.MultiplyAddAdjacent(w, Vector512.Create(*(int*)(a3 + j)).AsSByte());
        }
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

    /// <summary>The scalar order every tile output keeps: per block the exact integer dot sumi, then
    /// acc = fma((float)sumi, dw * dy, acc). For Q4_0, Q5_0 and Q8_0 weights against Q8_0 activations.</summary>
    internal static float ReferenceDot(GgmlType type, byte* w, byte* a, int n)
    {
        int bytes = GgmlTypes.Info(type).TypeSize;
        float acc = 0;
        for (int b = 0; b < n / QK; b++, w += bytes, a += YB)
        {
            int sumi = 0;
            for (int i = 0; i < QK; i++) sumi += Weight(type, w, i) * ((sbyte*)(a + 2))[i];
            acc = MathF.FusedMultiplyAdd(sumi, QuantMath.HalfToFloat(*(ushort*)w) * QuantMath.HalfToFloat(*(ushort*)a), acc);
        }
        return acc;
    }

    /// <summary>Element i of a block, as ggml's dequantization reads it (before the scale).</summary>
    static int Weight(GgmlType type, byte* block, int i) => type switch
    {
        GgmlType.Q8_0 => ((sbyte*)(block + 2))[i],
        GgmlType.Q4_0 => (i < 16 ? block[2 + i] & 15 : block[2 + i - 16] >> 4) - 8,
        GgmlType.Q5_0 => ((i < 16 ? block[6 + i] & 15 : block[6 + i - 16] >> 4) | (int)((*(uint*)(block + 2) >> i) & 1) << 4) - 16,
        _ => throw new ArgumentException($"{type} is not a 32-element block type of this kernel"),
    };
}
