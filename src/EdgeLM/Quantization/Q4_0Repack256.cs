// The decode product of Q4_0Repack at 256 bits (AVX2 + FMA), on the same layout: each 64-byte vector of
// a group's block is read as two halves, rows 0..7 and rows 8..15, with one accumulator each. The same
// integer sums, the same dw * dy and the same FMA order per output as the 512-bit kernel, so every output
// equals Block32GemmLanes.ReferenceDot bit for bit here too. Not for several activations (the prompt path)
// and not for CPUs without AVX2 and FMA.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal static unsafe partial class Q4_0Repack
{
    /// <summary>Rows 0..7 (lo) and 8..15 (hi) of one group, continuing from lo and hi.</summary>
    static (Vector256<float> Lo, Vector256<float> Hi) One256(byte* u, int nb, byte* a, int* p, Vector256<float> lo, Vector256<float> hi)
    {
        int b = 0;
        for (; b + 1 < nb; b += 2, u += PairBytes, a += 2 * YB, p += 4)
        {
            lo = Block256(u + ScaleBytes, DecodeRepack.Scales256(u), a, p, lo);
            hi = Block256(u + ScaleBytes + 32, DecodeRepack.Scales256(u + 16), a, p, hi);
            lo = Block256(u + ScaleBytes + BlockQuantBytes, DecodeRepack.Scales256(u + 32), a + YB, p + 2, lo);
            hi = Block256(u + ScaleBytes + BlockQuantBytes + 32, DecodeRepack.Scales256(u + 48), a + YB, p + 2, hi);
        }
        if (b < nb)
        {
            lo = Block256(u + ScaleBytes, DecodeRepack.Scales256(u), a, p, lo);
            hi = Block256(u + ScaleBytes + 32, DecodeRepack.Scales256(u + 16), a, p, hi);
        }
        return (lo, hi);
    }

    /// <summary>Block's step for eight rows: u is the half of the first quant vector holding them (the
    /// other three follow 64 bytes apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Block256(byte* u, Vector256<float> dw, byte* a, int* p, Vector256<float> acc)
    {
        var m = Vector256.Create((byte)0x0F);
        Vector256<byte> v0 = Vector256.Load(u), v1 = Vector256.Load(u + 64), v2 = Vector256.Load(u + 128), v3 = Vector256.Load(u + 192);
        var lo = Avx2.MultiplyAddAdjacent(v0 & m, Y(a)) + Avx2.MultiplyAddAdjacent(v1 & m, Y(a + 4))
            + Avx2.MultiplyAddAdjacent(v2 & m, Y(a + 8)) + Avx2.MultiplyAddAdjacent(v3 & m, Y(a + 12));
        var hi = Avx2.MultiplyAddAdjacent(High256(v0, m), Y(a + 16)) + Avx2.MultiplyAddAdjacent(High256(v1, m), Y(a + 20))
            + Avx2.MultiplyAddAdjacent(High256(v2, m), Y(a + 24)) + Avx2.MultiplyAddAdjacent(High256(v3, m), Y(a + 28));
        var i = Avx2.MultiplyAddAdjacent(lo + hi, Vector256<short>.One) - Vector256.Create(p[1]);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(i), dw * Vector256.Create(*(float*)p), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<sbyte> Y(byte* a) => Vector256.Create(*(int*)a).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> High256(Vector256<byte> v, Vector256<byte> m) => Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & m;
}
