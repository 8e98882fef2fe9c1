// The decode product of Q8_0Repack at 256 bits (AVX2 + FMA), on the same layout: each 64-byte vector of
// a group's block is read as two halves, rows 0..7 and rows 8..15, with one accumulator each. The same
// integer sums, the same dw * dy and the same FMA order per output as the 512-bit kernel, so every output
// equals Block32GemmLanes.ReferenceDot bit for bit here too. Not for several activations (the prompt path)
// and not for CPUs without AVX2 and FMA.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal static unsafe partial class Q8_0Repack
{
    /// <summary>Rows 0..7 (lo) and 8..15 (hi) of one group, continuing from lo and hi.</summary>
    static (Vector256<float> Lo, Vector256<float> Hi) One256(byte* u, int nb, byte* a, int* p, Vector256<float> lo, Vector256<float> hi)
    {
        int b = 0;
        for (; b + 1 < nb; b += 2, u += PairBytes, a += 2 * PlaneBytes, p += 4)
        {
            lo = Block256(u + ScaleBytes, DecodeRepack.Scales256(u), a, p, lo);
            hi = Block256(u + ScaleBytes + 32, DecodeRepack.Scales256(u + 16), a, p, hi);
            lo = Block256(u + ScaleBytes + BlockQuantBytes, DecodeRepack.Scales256(u + 32), a + PlaneBytes, p + 2, lo);
            hi = Block256(u + ScaleBytes + BlockQuantBytes + 32, DecodeRepack.Scales256(u + 48), a + PlaneBytes, p + 2, hi);
        }
        if (b < nb)
        {
            lo = Block256(u + ScaleBytes, DecodeRepack.Scales256(u), a, p, lo);
            hi = Block256(u + ScaleBytes + 32, DecodeRepack.Scales256(u + 16), a, p, hi);
        }
        return (lo, hi);
    }

    /// <summary>Block's step for eight rows: u is the half of the first quant vector holding them (the
    /// other seven follow 64 bytes apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Block256(byte* u, Vector256<float> dw, byte* a, int* p, Vector256<float> acc)
    {
        var h = Plane256(u, a);
        var l = Plane256(u, a + 32);
        var i = Avx2.MultiplyAddAdjacent(h, Vector256.Create((short)16)) + Avx2.MultiplyAddAdjacent(l, Vector256<short>.One)
            - Vector256.Create(p[1]);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(i), dw * Vector256.Create(*(float*)p), acc);
    }

    /// <summary>The eight chunks of eight rows against one activation plane (32 signed bytes at a), as int16 sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<short> Plane256(byte* u, byte* a) =>
        Avx2.MultiplyAddAdjacent(Vector256.Load(u), Y256(a)) + Avx2.MultiplyAddAdjacent(Vector256.Load(u + 64), Y256(a + 4))
        + Avx2.MultiplyAddAdjacent(Vector256.Load(u + 128), Y256(a + 8)) + Avx2.MultiplyAddAdjacent(Vector256.Load(u + 192), Y256(a + 12))
        + (Avx2.MultiplyAddAdjacent(Vector256.Load(u + 256), Y256(a + 16)) + Avx2.MultiplyAddAdjacent(Vector256.Load(u + 320), Y256(a + 20))
        + Avx2.MultiplyAddAdjacent(Vector256.Load(u + 384), Y256(a + 24)) + Avx2.MultiplyAddAdjacent(Vector256.Load(u + 448), Y256(a + 28)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<sbyte> Y256(byte* a) => Vector256.Create(*(int*)a).AsSByte();
}
