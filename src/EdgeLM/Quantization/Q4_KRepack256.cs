// The decode product of Q4_KRepack at 256 bits (AVX2 + FMA), on the same layout: each 64-byte vector of
// a group's super-block is read as two halves, rows 0..7 and rows 8..15, with one accumulator each. The
// same integer sums, the same d * dy, dmin * dy and the same FMA order per output as the 512-bit kernel,
// so every output equals KQuantLanes.ReferenceDot bit for bit here too (vpshufb indexes within 128-bit
// lanes, so the same controls serve both widths). Not for several activations (the prompt path) and not
// for CPUs without AVX2 and FMA.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal static unsafe partial class Q4_KRepack
{
    static readonly Vector256<byte> Pick0Half = Pick0.GetLower(), Pick1Half = Pick1.GetLower(), Pick2Half = Pick2.GetLower(), Pick3Half = Pick3.GetLower();

    /// <summary>Rows 0..7 (lo) and 8..15 (hi) of one group, continuing from lo and hi.</summary>
    static (Vector256<float> Lo, Vector256<float> Hi) One256(byte* u, int nb, byte* a, int* p, Vector256<float> lo, Vector256<float> hi)
    {
        for (int b = 0; b < nb; b++, u += BlockBytes, a += YB, p += 4)
        {
            lo = SuperBlock256(u, a, p, lo);
            hi = SuperBlock256(u + 32, a, p, hi);
        }
        return (lo, hi);
    }

    /// <summary>SuperBlock for eight rows: u is the half of the header vector holding them (every other
    /// vector of the super-block follows at the same half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> SuperBlock256(byte* u, byte* a, int* p, Vector256<float> acc)
    {
        var v0 = Vector256.Load((uint*)(u + ScalesAt));
        var v1 = Vector256.Load((uint*)(u + ScalesAt + 64));
        var v2 = Vector256.Load((uint*)(u + ScalesAt + 128));
        var six = Vector256.Create(0x3F3F3F3Fu);
        var low = Vector256.Create(0x0F0F0F0Fu);
        var top = Vector256.Create(0x30303030u);
        var scA = (v0 & six).AsByte();
        var scB = ((v2 & low) | ((v0 >> 2) & top)).AsByte();
        var mA = v1 & six;
        var mB = ((v2 >> 4) & low) | ((v1 >> 2) & top);
        Vector256<byte> p0 = Pick0Half, p1 = Pick1Half, p2 = Pick2Half, p3 = Pick3Half;

        byte* q = u + QuantsAt;
        byte* y = a + YQs;
        var isum = Column256(q, y, Avx2.Shuffle(scA, p0).AsInt16(), Avx2.Shuffle(scA, p1).AsInt16());
        isum += Column256(q + 512, y + 64, Avx2.Shuffle(scA, p2).AsInt16(), Avx2.Shuffle(scA, p3).AsInt16());
        isum += Column256(q + 1024, y + 128, Avx2.Shuffle(scB, p0).AsInt16(), Avx2.Shuffle(scB, p1).AsInt16());
        isum += Column256(q + 1536, y + 192, Avx2.Shuffle(scB, p2).AsInt16(), Avx2.Shuffle(scB, p3).AsInt16());

        var even = Vector256.Create(0x00FF00FFu);
        var summs = Avx2.MultiplyAddAdjacent((mA & even).AsInt16(), Vector256.Create(p[0]).AsInt16())
            + Avx2.MultiplyAddAdjacent(((mA >> 8) & even).AsInt16(), Vector256.Create(p[1]).AsInt16())
            + Avx2.MultiplyAddAdjacent((mB & even).AsInt16(), Vector256.Create(p[2]).AsInt16())
            + Avx2.MultiplyAddAdjacent(((mB >> 8) & even).AsInt16(), Vector256.Create(p[3]).AsInt16());

        var hdr = Vector256.Load((int*)u);
        var mask = Vector256.Create(unchecked((int)0x8FFFE000));
        var pow = Vector256.Create(5.192297e33f); // 2^112
        var d = (Vector256.ShiftRightArithmetic(hdr << 16, 3) & mask).AsSingle() * pow;
        var dmin = (Vector256.ShiftRightArithmetic(hdr, 3) & mask).AsSingle() * pow;
        var dy = Vector256.Create(*(float*)a);
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum), d * dy, acc);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(Vector256<int>.Zero - summs), dmin * dy, acc);
    }

    /// <summary>Column for eight rows (q: the half of the column's first vector holding them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Column256(byte* q, byte* y, Vector256<short> scLo, Vector256<short> scHi)
    {
        var m = Vector256.Create((byte)0x0F);
        Vector256<short> lo = default, hi = default;
        for (int j = 0; j < 8; j++)
        {
            var v = Vector256.Load(q + 64 * j);
            lo += Avx2.MultiplyAddAdjacent(v & m, Vector256.Create(*(int*)(y + 4 * j)).AsSByte());
            hi += Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & m, Vector256.Create(*(int*)(y + 32 + 4 * j)).AsSByte());
        }
        return Avx2.MultiplyAddAdjacent(lo, scLo) + Avx2.MultiplyAddAdjacent(hi, scHi);
    }
}
