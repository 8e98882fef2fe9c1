// The tile of Block32GemmLanes (32 weight rows, two groups of 16 in the lanes, x 4 activation rows, every accumulator in a
// register) and the scalar loop whose order it keeps (ReferenceDot), against which the tests hold every
// output bit for bit.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

internal static unsafe partial class Block32GemmLanes
{
    /// <summary>y[k * ys + r] for r &lt; rows, k &lt; na of the tile's 32 rows (two groups of 16 in the
    /// lanes: up, wd) against acts.</summary>
    static void Tile<T>(byte* up, float* wd, int nb, in Acts acts, float* y, int ys, int rows, int na) where T : ILanes32
    {
        byte* a0 = acts.A0 + 2, a1 = acts.A1 + 2, a2 = acts.A2 + 2, a3 = acts.A3 + 2; // the blocks' quants
        int* p0 = acts.P0, p1 = acts.P1, p2 = acts.P2, p3 = acts.P3;
        int gb = T.Planes * Chunks; // bytes of one group's block
        var one = Vector512<short>.One;
        Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default, g0 = default, g1 = default, g2 = default, g3 = default;
        for (int b = 0; b < nb; b++, up += 2 * gb, wd += R, a0 += YB, a1 += YB, a2 += YB, a3 += YB, p0 += 2, p1 += 2, p2 += 2, p3 += 2)
        {
            // s: rows 0..15, t: rows 16..31; i, j their int32 sums.
            Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default, t0 = default, t1 = default, t2 = default, t3 = default;
            Vector512<int> i0, i1, i2, i3, j0, j1, j2, j3;
            Four(up, up + gb, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
            if (T.Group == 4)
            {
                // Q5_0: widen after four chunks, before the int16 sums can overflow.
                i0 = Madd(s0, one); i1 = Madd(s1, one); i2 = Madd(s2, one); i3 = Madd(s3, one);
                j0 = Madd(t0, one); j1 = Madd(t1, one); j2 = Madd(t2, one); j3 = Madd(t3, one);
                s0 = s1 = s2 = s3 = t0 = t1 = t2 = t3 = default;
                Four(up + 256, up + gb + 256, a0 + 16, a1 + 16, a2 + 16, a3 + 16, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
                i0 += Madd(s0, one); i1 += Madd(s1, one); i2 += Madd(s2, one); i3 += Madd(s3, one);
                j0 += Madd(t0, one); j1 += Madd(t1, one); j2 += Madd(t2, one); j3 += Madd(t3, one);
            }
            else
            {
                Four(up + 256, up + gb + 256, a0 + 16, a1 + 16, a2 + 16, a3 + 16, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
                var m = T.Planes == 2 ? Vector512.Create((short)16) : one; // Q8_0: plane 0 is the high nibble
                i0 = Madd(s0, m); i1 = Madd(s1, m); i2 = Madd(s2, m); i3 = Madd(s3, m);
                j0 = Madd(t0, m); j1 = Madd(t1, m); j2 = Madd(t2, m); j3 = Madd(t3, m);
                if (T.Planes == 2)
                {
                    s0 = s1 = s2 = s3 = t0 = t1 = t2 = t3 = default;
                    Four(up + Chunks, up + gb + Chunks, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
                    Four(up + Chunks + 256, up + gb + Chunks + 256, a0 + 16, a1 + 16, a2 + 16, a3 + 16,
                        ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
                    i0 += Madd(s0, one); i1 += Madd(s1, one); i2 += Madd(s2, one); i3 += Madd(s3, one);
                    j0 += Madd(t0, one); j1 += Madd(t1, one); j2 += Madd(t2, one); j3 += Madd(t3, one);
                }
            }
            var dw = Vector512.Load(wd);
            var dv = Vector512.Load(wd + 16);
            Finish(i0, j0, dw, dv, p0, ref f0, ref g0);
            Finish(i1, j1, dw, dv, p1, ref f1, ref g1);
            Finish(i2, j2, dw, dv, p2, ref f2, ref g2);
            Finish(i3, j3, dw, dv, p3, ref f3, ref g3);
        }
        var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(rows)).AsSingle();
        var mask2 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(rows - 16)).AsSingle();
        Store(f0, g0, y, mask, mask2);
        if (na > 1) Store(f1, g1, y + ys, mask, mask2);
        if (na > 2) Store(f2, g2, y + 2L * ys, mask, mask2);
        if (na > 3) Store(f3, g3, y + 3L * ys, mask, mask2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Madd(Vector512<short> s, Vector512<short> m) => Avx512BW.MultiplyAddAdjacent(s, m);

    /// <summary>One activation's block: f += (float)(i - offset) * (dw * dy), likewise g for the second group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Finish(Vector512<int> i, Vector512<int> j, Vector512<float> dw, Vector512<float> dv, int* p,
        ref Vector512<float> f, ref Vector512<float> g)
    {
        var off = Vector512.Create(p[1]);
        var dy = Vector512.Create(*(float*)p);
        f = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i - off), dw * dy, f);
        g = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(j - off), dv * dy, g);
    }

    /// <summary>Four chunks (16 elements) of one plane of both groups (u, v) against the four activations'
    /// matching bytes (written out: the JIT does not unroll a loop here, and its counter costs more than
    /// the loads).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Four(byte* u, byte* v, byte* a0, byte* a1, byte* a2, byte* a3,
        ref Vector512<short> s0, ref Vector512<short> s1, ref Vector512<short> s2, ref Vector512<short> s3,
        ref Vector512<short> t0, ref Vector512<short> t1, ref Vector512<short> t2, ref Vector512<short> t3)
    {
        Chunk(u, v, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
        Chunk(u + 64, v + 64, a0 + 4, a1 + 4, a2 + 4, a3 + 4, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
        Chunk(u + 128, v + 128, a0 + 8, a1 + 8, a2 + 8, a3 + 8, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
        Chunk(u + 192, v + 192, a0 + 12, a1 + 12, a2 + 12, a3 + 12, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Chunk(byte* u, byte* v, byte* a0, byte* a1, byte* a2, byte* a3,
        ref Vector512<short> s0, ref Vector512<short> s1, ref Vector512<short> s2, ref Vector512<short> s3,
        ref Vector512<short> t0, ref Vector512<short> t1, ref Vector512<short> t2, ref Vector512<short> t3)
    {
        var w = Vector512.Load(u);
        var x = Vector512.Load(v);
        var y = Vector512.Create(*(int*)a0).AsSByte();
        s0 += Avx512BW.MultiplyAddAdjacent(w, y); t0 += Avx512BW.MultiplyAddAdjacent(x, y);
        y = Vector512.Create(*(int*)a1).AsSByte();
        s1 += Avx512BW.MultiplyAddAdjacent(w, y); t1 += Avx512BW.MultiplyAddAdjacent(x, y);
        y = Vector512.Create(*(int*)a2).AsSByte();
        s2 += Avx512BW.MultiplyAddAdjacent(w, y); t2 += Avx512BW.MultiplyAddAdjacent(x, y);
        y = Vector512.Create(*(int*)a3).AsSByte();
        s3 += Avx512BW.MultiplyAddAdjacent(w, y); t3 += Avx512BW.MultiplyAddAdjacent(x, y);
    }

    /// <summary>The tile's first `rows` outputs of one activation (masked stores: lanes past the range
    /// are not touched).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector512<float> f, Vector512<float> g, float* y, Vector512<float> mask, Vector512<float> mask2)
    {
        Avx512F.MaskStore(y, mask, f);
        Avx512F.MaskStore(y + 16, mask2, g);
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
