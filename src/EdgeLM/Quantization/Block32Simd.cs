// SIMD dots of 32-element-block weights (Q8_0, Q4_0, Q5_0) against Q8_0 activations. Each weight
// format only says how to turn one block into 32 signed bytes (IBlock32); one generic loop per width
// does the rest: exact integer block sums, then a float accumulator per lane, acc += sumi * dx * dy,
// reduced once at the end (so results differ from the scalar reference by float reassociation only).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal unsafe interface IBlock32
{
    static abstract int BlockBytes { get; }
    /// <summary>Elements 0..15 and 16..31 of the block as signed bytes.</summary>
    static abstract (Vector128<sbyte> Lo, Vector128<sbyte> Hi) Load(byte* block);
    /// <summary>All 32 elements of the block as signed bytes.</summary>
    static abstract Vector256<sbyte> Load256(byte* block);
}

[SkipLocalsInit]
internal static unsafe class Block32Simd
{
    const int QK = 32;

    public static float Dot128<T>(byte* w, byte* a, int n) where T : IBlock32
    {
        var acc = Vector128<float>.Zero;
        for (int ib = 0; ib < n / QK; ib++, w += T.BlockBytes, a += sizeof(BlockQ8_0))
        {
            var (lo, hi) = T.Load(w);
            var y = (BlockQ8_0*)a;
            var ints = IntDot.Dot(lo, Vector128.Load(y->Qs)) + IntDot.Dot(hi, Vector128.Load(y->Qs + 16));
            float d = QuantMath.HalfToFloat(*(ushort*)w) * QuantMath.HalfToFloat(y->D);
            acc += Vector128.ConvertToSingle(ints) * d;
        }
        return Vector128.Sum(acc);
    }

    public static float Dot256<T>(byte* w, byte* a, int n) where T : IBlock32
    {
        var acc = Vector256<float>.Zero;
        for (int ib = 0; ib < n / QK; ib++, w += T.BlockBytes, a += sizeof(BlockQ8_0))
        {
            var (lo, hi) = T.Load(w);
            var y = (BlockQ8_0*)a;
            var ints = IntDot.Dot(Vector256.Create(lo, hi), Vector256.Load(y->Qs));
            float d = QuantMath.HalfToFloat(*(ushort*)w) * QuantMath.HalfToFloat(y->D);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ints), Vector256.Create(d), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Four blocks per step in two independent accumulators, two blocks per 512-bit register
    /// (lanes 0..7 from the first, 8..15 from the second). The eight fp16 scales of a step are widened
    /// together in one vector and spread to the lanes by vpermd, instead of eight scalar conversions
    /// and broadcasts. Fewer than four blocks left take the 256 path.</summary>
    public static float Dot512<T>(byte* w, byte* a, int n) where T : IBlock32
    {
        int b = T.BlockBytes, nb = n / QK, ib = 0;
        const int yb = 34; // sizeof(BlockQ8_0)
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        var lanes01 = Vector512.Create(Vector256.Create(0), Vector256.Create(1));
        var lanes23 = Vector512.Create(Vector256.Create(2), Vector256.Create(3));
        for (; ib + 3 < nb; ib += 4, w += 4 * b, a += 4 * yb)
        {
            var hx = Vector128.Create((uint)*(ushort*)w, *(ushort*)(w + b), *(ushort*)(w + 2 * b), *(ushort*)(w + 3 * b));
            var hy = Vector128.Create((uint)*(ushort*)a, *(ushort*)(a + yb), *(ushort*)(a + 2 * yb), *(ushort*)(a + 3 * yb));
            var d = (QuantMath.HalfToFloat(hx) * QuantMath.HalfToFloat(hy)).ToVector256Unsafe().ToVector512Unsafe();
            var x01 = Pair(T.Load256(w), T.Load256(w + b));
            var y01 = Pair(Vector256.Load((sbyte*)a + 2), Vector256.Load((sbyte*)a + yb + 2));
            var x23 = Pair(T.Load256(w + 2 * b), T.Load256(w + 3 * b));
            var y23 = Pair(Vector256.Load((sbyte*)a + 2 * yb + 2), Vector256.Load((sbyte*)a + 3 * yb + 2));
            acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(IntDot.Dot(x01, y01)), Avx512F.PermuteVar16x32(d, lanes01), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(IntDot.Dot(x23, y23)), Avx512F.PermuteVar16x32(d, lanes23), acc1);
        }
        float sum = Vector512.Sum(acc0 + acc1);
        if (ib < nb) sum += Dot256<T>(w, a, QK * (nb - ib));
        return sum;
    }

    /// <summary>Q4_0 at 512 bits: two blocks' 16 packed bytes are placed as [q0, q0, q1, q1] (vpermq)
    /// and the second copy of each shifted down a nibble (vpsrlvq), giving 64 weights in activation
    /// order from one load pair. The nibbles go unsigned into vpmaddubsw and the offset of 8 is taken
    /// out as 8 * y pair sums (all 16-bit sums stay below 3810 + 2032).</summary>
    public static float Dot512Q4_0(byte* w, byte* a, int n)
    {
        const int b = 18, yb = 34;
        int nb = n / QK, ib = 0;
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        var lanes01 = Vector512.Create(Vector256.Create(0), Vector256.Create(1));
        var lanes23 = Vector512.Create(Vector256.Create(2), Vector256.Create(3));
        var order = Vector512.Create(0ul, 1, 0, 1, 2, 3, 2, 3);
        var shift = Vector512.Create(0ul, 0, 4, 4, 0, 0, 4, 4);
        for (; ib + 3 < nb; ib += 4, w += 4 * b, a += 4 * yb)
        {
            var hx = Vector128.Create((uint)*(ushort*)w, *(ushort*)(w + b), *(ushort*)(w + 2 * b), *(ushort*)(w + 3 * b));
            var hy = Vector128.Create((uint)*(ushort*)a, *(ushort*)(a + yb), *(ushort*)(a + 2 * yb), *(ushort*)(a + 3 * yb));
            var d = (QuantMath.HalfToFloat(hx) * QuantMath.HalfToFloat(hy)).ToVector256Unsafe().ToVector512Unsafe();
            var y01 = Pair(Vector256.Load((sbyte*)a + 2), Vector256.Load((sbyte*)a + yb + 2));
            var y23 = Pair(Vector256.Load((sbyte*)a + 2 * yb + 2), Vector256.Load((sbyte*)a + 3 * yb + 2));
            var i01 = NibbleDot(Nibbles(w, w + b, order, shift), y01);
            var i23 = NibbleDot(Nibbles(w + 2 * b, w + 3 * b, order, shift), y23);
            acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i01), Avx512F.PermuteVar16x32(d, lanes01), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i23), Avx512F.PermuteVar16x32(d, lanes23), acc1);
        }
        float sum = Vector512.Sum(acc0 + acc1);
        if (ib < nb) sum += Dot256<Q4_0Block>(w, a, QK * (nb - ib));
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<byte> Nibbles(byte* b0, byte* b1, Vector512<ulong> order, Vector512<ulong> shift)
    {
        var q = Vector128.Load(b0 + 2).ToVector256Unsafe().WithUpper(Vector128.Load(b1 + 2)).AsUInt64().ToVector512Unsafe();
        return Avx512F.ShiftRightLogicalVariable(Avx512F.PermuteVar8x64(q, order), shift).AsByte() & Vector512.Create((byte)0x0F);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> NibbleDot(Vector512<byte> q, Vector512<sbyte> y)
    {
        var p16 = Avx512BW.MultiplyAddAdjacent(q, y) - Avx512BW.MultiplyAddAdjacent(Vector512.Create((byte)8), y);
        return Avx512BW.MultiplyAddAdjacent(p16, Vector512<short>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<sbyte> Pair(Vector256<sbyte> lo, Vector256<sbyte> hi) => lo.ToVector512Unsafe().WithUpper(hi);
}

internal unsafe struct Q8_0Block : IBlock32
{
    public static int BlockBytes => sizeof(BlockQ8_0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<sbyte> Lo, Vector128<sbyte> Hi) Load(byte* block) =>
        (Vector128.Load((sbyte*)(block + 2)), Vector128.Load((sbyte*)(block + 18)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Load256(byte* block) => Vector256.Load((sbyte*)(block + 2));
}

internal unsafe struct Q4_0Block : IBlock32
{
    public static int BlockBytes => sizeof(BlockQ4_0);

    /// <summary>Low nibbles are elements 0..15, high nibbles 16..31; both minus 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<sbyte> Lo, Vector128<sbyte> Hi) Load(byte* block)
    {
        var q = Vector128.Load(block + 2);
        var eight = Vector128.Create((sbyte)8);
        return ((q & Vector128.Create((byte)0x0F)).AsSByte() - eight, Vector128.ShiftRightLogical(q, 4).AsSByte() - eight);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Load256(byte* block)
    {
        var q = Vector128.Load(block + 2);
        var both = q.ToVector256Unsafe().WithUpper(Vector128.ShiftRightLogical(q, 4)) & Vector256.Create((byte)0x0F);
        return both.AsSByte() - Vector256.Create((sbyte)8);
    }
}

internal unsafe struct Q5_0Block : IBlock32
{
    public static int BlockBytes => sizeof(BlockQ5_0);

    /// <summary>As Q4_0 plus bit 4 from qh: each qh byte is broadcast to 8 lanes (a multiply by
    /// 0x0101..01) and tested against the lane's bit, giving 0x10 where the bit is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<sbyte> Lo, Vector128<sbyte> Hi) Load(byte* block)
    {
        uint qh = *(uint*)(block + 2);
        var q = Vector128.Load(block + 6);
        var bits = Vector128.Create(0x8040201008040201ul).AsByte();
        var hl = Vector128.Create((qh & 0xFF) * 0x0101010101010101ul, ((qh >> 8) & 0xFF) * 0x0101010101010101ul).AsByte();
        var hh = Vector128.Create(((qh >> 16) & 0xFF) * 0x0101010101010101ul, (qh >> 24) * 0x0101010101010101ul).AsByte();
        var sixteen = Vector128.Create((byte)0x10);
        var lo = (q & Vector128.Create((byte)0x0F)) | (Vector128.Equals(hl & bits, bits) & sixteen);
        var hi = Vector128.ShiftRightLogical(q, 4) | (Vector128.Equals(hh & bits, bits) & sixteen);
        var bias = Vector128.Create((sbyte)16);
        return (lo.AsSByte() - bias, hi.AsSByte() - bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Load256(byte* block)
    {
        var (lo, hi) = Load(block);
        return lo.ToVector256Unsafe().WithUpper(hi);
    }
}

internal static unsafe class Q8_0Simd
{
    public static delegate*<byte*, byte*, int, float> Resolve(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => &Block32Simd.Dot512<Q8_0Block>,
        SimdLevel.Vector256 => &Block32Simd.Dot256<Q8_0Block>,
        _ => &Block32Simd.Dot128<Q8_0Block>,
    };

    /// <summary>The CPU activation quantizer (see Q8_0.QuantizeActivation) 8 floats at a time: the
    /// same amax, the same 127/amax multiplier, and Vector.Round, which is ties-to-even like
    /// _mm256_round_ps(_MM_ROUND_NEAREST), so the bytes are identical to the scalar path.</summary>
    public static void QuantizeActivation(float* x, BlockQ8_0* y, int k, SimdLevel level)
    {
        if (level < SimdLevel.Vector256 || !Vector256.IsHardwareAccelerated)
        {
            Q8_0.QuantizeActivation(x, y, k);
            return;
        }
        for (int i = 0; i < k / 32; i++, x += 32)
        {
            var v0 = Vector256.Load(x); var v1 = Vector256.Load(x + 8);
            var v2 = Vector256.Load(x + 16); var v3 = Vector256.Load(x + 24);
            var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
            float amax = HMax(m);
            y[i].D = QuantMath.FloatToHalf(amax / 127f);
            var id = Vector256.Create(amax != 0 ? 127f / amax : 0f);
            var i0 = Vector256.ConvertToInt32(Vector256.Round(v0 * id));
            var i1 = Vector256.ConvertToInt32(Vector256.Round(v1 * id));
            var i2 = Vector256.ConvertToInt32(Vector256.Round(v2 * id));
            var i3 = Vector256.ConvertToInt32(Vector256.Round(v3 * id));
            Pack(i0, i1, i2, i3).Store(y[i].Qs);
        }
    }

    /// <summary>32 ints in [-127, 127] to bytes in order. With AVX2 the saturating packs (exact in that range)
    /// and one dword permute that undoes their per-lane interleave: four instructions where Narrow's
    /// order-keeping truncation takes several more.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<sbyte> Pack(Vector256<int> i0, Vector256<int> i1, Vector256<int> i2, Vector256<int> i3)
    {
        if (!Avx2.IsSupported) return Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3));
        var b = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(i0, i1), Avx2.PackSignedSaturate(i2, i3));
        return Avx2.PermuteVar8x32(b.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float HMax(Vector256<float> m)
    {
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
        return h.ToScalar();
    }
}

internal static unsafe class Q4_0Simd
{
    public static delegate*<byte*, byte*, int, float> Resolve(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => &Block32Simd.Dot512Q4_0,
        SimdLevel.Vector256 => &Block32Simd.Dot256<Q4_0Block>,
        _ => &Block32Simd.Dot128<Q4_0Block>,
    };
}

internal static unsafe class Q5_0Simd
{
    public static delegate*<byte*, byte*, int, float> Resolve(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => &Block32Simd.Dot512<Q5_0Block>,
        SimdLevel.Vector256 => &Block32Simd.Dot256<Q5_0Block>,
        _ => &Block32Simd.Dot128<Q5_0Block>,
    };
}
