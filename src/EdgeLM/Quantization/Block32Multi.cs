// AVX-512 tiles of 32-element-block dots (Q8_0, Q5_0, Q4_0 weights against Q8_0 activations): four
// weight rows against one or two activation rows per pass. Each weight block is loaded and unpacked
// once per tile and used against every activation of the tile; each activation block once and used
// against the four rows; the fp16 scales are widened once per row and per activation.
// Every (row, activation) keeps the two accumulators of Block32Simd.Dot512 (blocks 4k, 4k+1 and
// 4k+2, 4k+3), the same integer block sums, the same scale products, the same final reduction and the
// same 256-bit tail, so each output is bit-identical to the single-row dot.
// Not a general GEMM: rows and activations outside whole tiles take the single-row dot.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

/// <summary>One 32-element weight format at 512 bits, two blocks per register, split into a per-weight
/// part computed once per tile (U, M) and a per-activation part (Aux) so the pair product is short.</summary>
internal unsafe interface IPair512
{
    static abstract int BlockBytes { get; }
    static abstract (Vector512<byte> U, Vector512<sbyte> M) Weights(byte* b0, byte* b1);
    static abstract Vector512<sbyte> Aux(Vector512<sbyte> y);
    /// <summary>16 int lanes, lane j the sum of elements 4j..4j+3 of the two blocks' products.</summary>
    static abstract Vector512<int> Dot(Vector512<byte> u, Vector512<sbyte> m, Vector512<sbyte> y, Vector512<sbyte> aux);
    /// <summary>The single-row dot this tile reproduces, for rows and activations outside tiles.</summary>
    static abstract float Single(byte* w, byte* a, int n);
    /// <summary>The single-row dot's tail for fewer than four blocks.</summary>
    static abstract float Tail(byte* w, byte* a, int n);
}

/// <summary>Signed weights (Q8_0, Q5_0): |x| and x's sign once per weight, -y once per activation,
/// so the sign trick of IntDot.Dot costs one blend per pair.</summary>
internal unsafe struct SignedPair<T> : IPair512 where T : IBlock32
{
    public static int BlockBytes => T.BlockBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<byte> U, Vector512<sbyte> M) Weights(byte* b0, byte* b1)
    {
        var x = T.Load256(b0).ToVector512Unsafe().WithUpper(T.Load256(b1));
        return (Avx512BW.Abs(x), Vector512.LessThan(x, Vector512<sbyte>.Zero));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Aux(Vector512<sbyte> y) => -y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Dot(Vector512<byte> u, Vector512<sbyte> m, Vector512<sbyte> y, Vector512<sbyte> aux) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, Vector512.ConditionalSelect(m, aux, y)), Vector512<short>.One);

    public static float Single(byte* w, byte* a, int n) => Block32Simd.Dot512<T>(w, a, n);
    public static float Tail(byte* w, byte* a, int n) => Block32Simd.Dot256<T>(w, a, n);
}

/// <summary>Q4_0: unsigned nibbles once per weight; the offset term 8 * y pair sums once per activation.</summary>
internal unsafe struct Q4_0Pair : IPair512
{
    public static int BlockBytes => 18;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<byte> U, Vector512<sbyte> M) Weights(byte* b0, byte* b1) =>
        (Block32Simd.Nibbles(b0, b1, Vector512.Create(0ul, 1, 0, 1, 2, 3, 2, 3), Vector512.Create(0ul, 0, 4, 4, 0, 0, 4, 4)), default);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Aux(Vector512<sbyte> y) => Avx512BW.MultiplyAddAdjacent(Vector512.Create((byte)8), y).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Dot(Vector512<byte> u, Vector512<sbyte> m, Vector512<sbyte> y, Vector512<sbyte> aux) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, y) - aux.AsInt16(), Vector512<short>.One);

    public static float Single(byte* w, byte* a, int n) => Block32Simd.Dot512Q4_0(w, a, n);
    public static float Tail(byte* w, byte* a, int n) => Block32Simd.Dot256<Q4_0Block>(w, a, n);
}

internal interface ITileWidth { static abstract bool Two { get; } }
internal struct OneActivation : ITileWidth { public static bool Two => false; }
internal struct TwoActivations : ITileWidth { public static bool Two => true; }

[SkipLocalsInit]
internal static unsafe class Block32Multi
{
    const int QK = 32, YB = 34; // elements per block, sizeof(BlockQ8_0)

    /// <summary>y[t * ys + r] = dot(W[r], x_t) for r in [0, rows), t in [0, na); W rows rb bytes
    /// apart, activations ab bytes apart.</summary>
    public static void Rows<T>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n) where T : IPair512
    {
        int r = 0;
        for (; r + 3 < rows; r += 4)
        {
            int t = 0;
            for (; t + 1 < na; t += 2) Tile<T, TwoActivations>(w + r * rb, rb, a + t * ab, ab, y + (long)t * ys + r, ys, n);
            if (t < na) Tile<T, OneActivation>(w + r * rb, rb, a + t * ab, ab, y + (long)t * ys + r, ys, n);
        }
        for (; r < rows; r++)
            for (int t = 0; t < na; t++) y[(long)t * ys + r] = T.Single(w + r * rb, a + t * ab, n);
    }

    /// <summary>Four rows against one or two activations; p0* accumulate blocks 4k, 4k+1 and p1* blocks
    /// 4k+2, 4k+3 (suffix: row, activation), as Dot512's acc0 and acc1.</summary>
    static void Tile<T, TA>(byte* w, long rb, byte* a, long ab, float* y, int ys, int n) where T : IPair512 where TA : ITileWidth
    {
        int b = T.BlockBytes, nb = n / QK, ib = 0;
        Vector512<float> p000 = default, p010 = default, p020 = default, p030 = default;
        Vector512<float> p001 = default, p011 = default, p021 = default, p031 = default;
        Vector512<float> p100 = default, p110 = default, p120 = default, p130 = default;
        Vector512<float> p101 = default, p111 = default, p121 = default, p131 = default;
        byte* w0 = w, w1 = w + rb, w2 = w + 2 * rb, w3 = w + 3 * rb, a0 = a, a1 = TA.Two ? a + ab : a;
        for (; ib + 3 < nb; ib += 4, w0 += 4 * b, w1 += 4 * b, w2 += 4 * b, w3 += 4 * b, a0 += 4 * YB, a1 += 4 * YB)
        {
            // The step's scales, row r's block k in lane 4r + k (activation t's in lane 4t + k).
            var sx = Vector512.Create(Vector256.Create(Scales(w0, b), Scales(w1, b)), Vector256.Create(Scales(w2, b), Scales(w3, b)));
            var sy = Vector256.Create(Scales(a0, YB), TA.Two ? Scales(a1, YB) : default).ToVector512Unsafe();
            Pair<T, TA>(w0, w1, w2, w3, a0 + 2, a1 + 2, sx, sy, 0,
                ref p000, ref p010, ref p020, ref p030, ref p001, ref p011, ref p021, ref p031);
            Pair<T, TA>(w0 + 2 * b, w1 + 2 * b, w2 + 2 * b, w3 + 2 * b, a0 + 2 * YB + 2, a1 + 2 * YB + 2, sx, sy, 2,
                ref p100, ref p110, ref p120, ref p130, ref p101, ref p111, ref p121, ref p131);
        }
        int rest = QK * (nb - ib);
        y[0] = Finish<T>(p000, p100, w0, a0, rest);
        y[1] = Finish<T>(p010, p110, w1, a0, rest);
        y[2] = Finish<T>(p020, p120, w2, a0, rest);
        y[3] = Finish<T>(p030, p130, w3, a0, rest);
        if (!TA.Two) return;
        y += ys;
        y[0] = Finish<T>(p001, p101, w0, a1, rest);
        y[1] = Finish<T>(p011, p111, w1, a1, rest);
        y[2] = Finish<T>(p021, p121, w2, a1, rest);
        y[3] = Finish<T>(p031, p131, w3, a1, rest);
    }

    /// <summary>One block pair of four rows against the activation(s): scales spread to the pair's
    /// lanes, weights unpacked once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Pair<T, TA>(byte* w0, byte* w1, byte* w2, byte* w3, byte* a0, byte* a1,
        Vector512<float> sx, Vector512<float> sy, int k,
        ref Vector512<float> c00, ref Vector512<float> c10, ref Vector512<float> c20, ref Vector512<float> c30,
        ref Vector512<float> c01, ref Vector512<float> c11, ref Vector512<float> c21, ref Vector512<float> c31)
        where T : IPair512 where TA : ITileWidth
    {
        int b = T.BlockBytes;
        var (u0, m0) = T.Weights(w0, w0 + b);
        var (u1, m1) = T.Weights(w1, w1 + b);
        var (u2, m2) = T.Weights(w2, w2 + b);
        var (u3, m3) = T.Weights(w3, w3 + b);
        Vector512<float> d0 = Avx512F.PermuteVar16x32(sx, Lanes(k)), d1 = Avx512F.PermuteVar16x32(sx, Lanes(4 + k));
        Vector512<float> d2 = Avx512F.PermuteVar16x32(sx, Lanes(8 + k)), d3 = Avx512F.PermuteVar16x32(sx, Lanes(12 + k));
        var y = Vector256.Load((sbyte*)a0).ToVector512Unsafe().WithUpper(Vector256.Load((sbyte*)a0 + YB));
        var aux = T.Aux(y);
        var dy = Avx512F.PermuteVar16x32(sy, Lanes(k));
        c00 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u0, m0, y, aux)), d0 * dy, c00);
        c10 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u1, m1, y, aux)), d1 * dy, c10);
        c20 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u2, m2, y, aux)), d2 * dy, c20);
        c30 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u3, m3, y, aux)), d3 * dy, c30);
        if (!TA.Two) return;
        y = Vector256.Load((sbyte*)a1).ToVector512Unsafe().WithUpper(Vector256.Load((sbyte*)a1 + YB));
        aux = T.Aux(y);
        dy = Avx512F.PermuteVar16x32(sy, Lanes(4 + k));
        c01 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u0, m0, y, aux)), d0 * dy, c01);
        c11 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u1, m1, y, aux)), d1 * dy, c11);
        c21 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u2, m2, y, aux)), d2 * dy, c21);
        c31 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u3, m3, y, aux)), d3 * dy, c31);
    }

    /// <summary>The fp16 scales of four consecutive blocks (stride s) widened, as Dot512 does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Scales(byte* p, int s) => QuantMath.HalfToFloat(Vector128.Create(
        (uint)*(ushort*)p, *(ushort*)(p + s), *(ushort*)(p + 2 * s), *(ushort*)(p + 3 * s)));

    /// <summary>vpermps indices: lane s to lanes 0..7 (the pair's first block), s + 1 to 8..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Lanes(int s) => Vector512.Create(Vector256.Create(s), Vector256.Create(s + 1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Finish<T>(Vector512<float> acc0, Vector512<float> acc1, byte* w, byte* a, int rest) where T : IPair512
    {
        float sum = Vector512.Sum(acc0 + acc1);
        if (rest > 0) sum += T.Tail(w, a, rest);
        return sum;
    }
}
