// The decode product of Q6_KRepack at 256 bits (AVX2 + FMA), on the same layout: each 64-byte vector of
// a group's super-block is read as two halves, rows 0..7 and rows 8..15, with one accumulator each (the
// group's d likewise: its first 16 bytes for rows 0..7, the next 16 for 8..15). The same integer sums,
// d * dy and FMA order per output as the 512-bit kernel, so every output equals KQuantLanes.ReferenceDot
// bit for bit here too. Not for several activations (the prompt path) and not for CPUs without AVX2 and FMA.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal static unsafe partial class Q6_KRepack
{
    static readonly Vector256<byte> Pick0Half = Pick0.GetLower(), Pick1Half = Pick1.GetLower();

    /// <summary>Rows 0..7 (lo) and 8..15 (hi) of one group, continuing from lo and hi.</summary>
    static (Vector256<float> Lo, Vector256<float> Hi) One256(byte* u, int nb, byte* a, int* p, Vector256<float> lo, Vector256<float> hi)
    {
        byte* d = u;
        u += DBytes(nb);
        for (int b = 0; b < nb; b++, u += BlockBytes, d += 32, a += YB, p += 8)
        {
            lo = SuperBlock256(u, d, a, p, lo);
            hi = SuperBlock256(u + 32, d + 16, a, p, hi);
        }
        return (lo, hi);
    }

    /// <summary>One super-block for eight rows: u is the half of its first vector holding them, d their eight fp16 d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> SuperBlock256(byte* u, byte* d, byte* a, int* p, Vector256<float> acc)
    {
        var i = Half256(u, 0, a + YQs) + Half256(u, 1, a + YQs);
        Vector256<int> off = default;
        for (int v = 0; v < 4; v++)
        {
            var s = Vector256.Load((short*)(u + 64 * v));
            off += Avx2.MultiplyAddAdjacent(Vector256.ShiftRightArithmetic(s << 8, 8), Vector256.Create(p[2 * v]).AsInt16());
            off += Avx2.MultiplyAddAdjacent(Vector256.ShiftRightArithmetic(s, 8), Vector256.Create(p[2 * v + 1]).AsInt16());
        }
        var bits = Avx2.ConvertToVector256Int32((short*)d) << 13;
        var dw = (bits & Vector256.Create(unchecked((int)0x8FFFFFFF))).AsSingle() * Vector256.Create(5.192297e33f); // 2^112
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(i - (off << 5)), dw * Vector256.Create(*(float*)a), acc);
    }

    /// <summary>Half for eight rows (see Half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Half256(byte* u, int h, byte* y)
    {
        var s0 = Vector256.Load((short*)(u + 128 * h));
        var s1 = Vector256.Load((short*)(u + 128 * h + 64));
        var e0 = Vector256.ShiftRightArithmetic(s0 << 8, 8).AsByte();
        var o0 = Vector256.ShiftRightArithmetic(s0, 8).AsByte();
        var e1 = Vector256.ShiftRightArithmetic(s1 << 8, 8).AsByte();
        var o1 = Vector256.ShiftRightArithmetic(s1, 8).AsByte();
        Vector256<byte> p0 = Pick0Half, p1 = Pick1Half;
        byte* q = u + QuantsAt + HalfBytes * h;
        y += 128 * h;
        var i = Quarter256(q, y, Avx2.Shuffle(e0, p0).AsInt16(), Avx2.Shuffle(e0, p1).AsInt16(),
            Avx2.Shuffle(e1, p0).AsInt16(), Avx2.Shuffle(e1, p1).AsInt16());
        return i + Quarter256(q + 4 * 192, y + 16, Avx2.Shuffle(o0, p0).AsInt16(), Avx2.Shuffle(o0, p1).AsInt16(),
            Avx2.Shuffle(o1, p0).AsInt16(), Avx2.Shuffle(o1, p1).AsInt16());
    }

    /// <summary>Quarter for eight rows (see Quarter).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Quarter256(byte* q, byte* y, Vector256<short> c0, Vector256<short> c1, Vector256<short> c2, Vector256<short> c3)
    {
        Vector256<int> i = default;
        for (int j = 0; j < 4; j += 2, q += 384, y += 8)
        {
            var (a0, a1, a2, a3) = Unpack256(q);
            var (b0, b1, b2, b3) = Unpack256(q + 192);
            i += Avx2.MultiplyAddAdjacent(Pair256(a0, b0, y), c0);
            i += Avx2.MultiplyAddAdjacent(Pair256(a1, b1, y + 32), c1);
            i += Avx2.MultiplyAddAdjacent(Pair256(a2, b2, y + 64), c2);
            i += Avx2.MultiplyAddAdjacent(Pair256(a3, b3, y + 96), c3);
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<short> Pair256(Vector256<byte> a, Vector256<byte> b, byte* y) =>
        Avx2.MultiplyAddAdjacent(a, Vector256.Create(*(int*)y).AsSByte())
        + Avx2.MultiplyAddAdjacent(b, Vector256.Create(*(int*)(y + 4)).AsSByte());

    /// <summary>Unpack for eight rows (see Unpack).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<byte>, Vector256<byte>, Vector256<byte>, Vector256<byte>) Unpack256(byte* q)
    {
        var m = Vector256.Create((byte)0x3F);
        var v0 = Vector256.Load(q);
        var v1 = Vector256.Load(q + 64);
        var v2 = Vector256.Load(q + 128);
        var c3 = (Vector256.ShiftRightLogical(v0.AsUInt16(), 6).AsByte() & Vector256.Create((byte)0x03))
            | (Vector256.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & Vector256.Create((byte)0x0C))
            | (Vector256.ShiftRightLogical(v2.AsUInt16(), 2).AsByte() & Vector256.Create((byte)0x30));
        return (v0 & m, v1 & m, v2 & m, c3);
    }
}
