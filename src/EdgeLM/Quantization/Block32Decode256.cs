// The decode path (Block32Decode) at 256 bits for Q4_0 and Q5_0, where AVX-512 is missing or switched
// off: the activation row prepared once per product (scales as floats, the per-lane offset term
// bias * sum(y) of every four elements as int32), so each weight block costs its unpacking, one
// unsigned vpmaddubsw, one vpmaddwd and one subtraction instead of the offset subtraction per byte
// and the sign trick (vpabsb, vpsignb) of Block32Simd.Dot256; two rows at a time, for two FMA chains.
// Bit-identical to Dot256 (exact integer lane sums; the same dx * dy, FMA order and reduction).
// Not for Q8_0 (its signed weights need the sign trick either way) nor for 512 bits (Block32Decode).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class Block32Decode256
{
    const int QK = 32, YB = 34; // elements per block, sizeof(BlockQ8_0)

    /// <summary>y[r] = dot(W[r], x) for r in [0, rows) with the prepared buffer p (at least 36 bytes
    /// per block, 32-byte aligned).</summary>
    public static void Rows<T>(byte* w, long rb, int rows, byte* a, byte* p, float* y, int n) where T : IBlock32
    {
        int nb = n / QK;
        float* dy = (float*)p;
        int* off = (int*)(p + ((4 * nb + 31) & ~31));
        byte bias = typeof(T) == typeof(Q4_0Block) ? (byte)8 : (byte)16;
        for (int ib = 0; ib < nb; ib++)
        {
            dy[ib] = QuantMath.HalfToFloat(*(ushort*)(a + ib * YB));
            var q = Vector256.Load((sbyte*)a + ib * YB + 2);
            Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Create(bias), q), Vector256<short>.One).Store(off + 8 * ib);
        }
        int r = 0;
        for (; r + 1 < rows; r += 2, w += 2 * rb) Dot2<T>(w, w + rb, a, dy, off, y + r, nb);
        if (r < rows) Dot2<T>(w, w, a, dy, off, y + r, nb); // one row, computed twice
    }

    static void Dot2<T>(byte* w0, byte* w1, byte* a, float* dy, int* off, float* y, int nb) where T : IBlock32
    {
        Vector256<float> acc0 = default, acc1 = default;
        for (int ib = 0; ib < nb; ib++, w0 += T.BlockBytes, w1 += T.BlockBytes, a += YB, off += 8)
        {
            var ya = Vector256.Load((sbyte*)a + 2);
            var o = Vector256.Load(off);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Ints<T>(w0, ya, o)), Vector256.Create(QuantMath.HalfToFloat(*(ushort*)w0) * dy[ib]), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Ints<T>(w1, ya, o)), Vector256.Create(QuantMath.HalfToFloat(*(ushort*)w1) * dy[ib]), acc1);
        }
        y[0] = Vector256.Sum(acc0);
        if (w0 != w1) y[1] = Vector256.Sum(acc1);
    }

    /// <summary>Block32Simd.Dot256's 8 lanes: unsigned weights (Q4_0: 0..15, Q5_0: 0..31) times y,
    /// less bias times the y sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Ints<T>(byte* w, Vector256<sbyte> y, Vector256<int> off) where T : IBlock32
    {
        Vector256<byte> u;
        if (typeof(T) == typeof(Q4_0Block))
        {
            var q = Vector128.Load(w + 2);
            u = q.ToVector256Unsafe().WithUpper(Vector128.ShiftRightLogical(q, 4)) & Vector256.Create((byte)0x0F);
        }
        else
        {
            u = (T.Load256(w) + Vector256.Create((sbyte)16)).AsByte(); // Q5_0 as 0..31
        }
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, y), Vector256<short>.One) - off;
    }
}
