// BF16 weight rows against one BF16 activation row (decode): the activation is widened to float once
// per product, and each weight costs one unpack against zero, which puts it in the high 16 bits of a
// 32-bit lane: exactly its float (bfloat16 is the top half of a binary32, specials included).
// Not the scalar reference (BF16.VecDot). The unpack works inside 128-bit lanes, so the activation is
// stored in the same lane order (F16Rows.cs explains it); the tail stays in natural order.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class BF16Rows
{
    [ThreadStatic] static float[]? t_activation;

    /// <summary>y[r] = dot(W[r], a) for <paramref name="rows"/> rows rowBytes apart; a is BF16.</summary>
    public static void Rows(byte* w, long rowBytes, int rows, ushort* a, float* y, int n, SimdLevel level)
    {
        float* aw = F16Rows.Scratch(ref t_activation, n);
        WidenActivation(a, aw, n, level);
        for (int r = 0; r < rows; r++, w += rowBytes) y[r] = Dot((ushort*)w, aw, n, level);
    }

    /// <summary>One dot (the QuantDots entry): the same kernel as <see cref="Rows"/>, the same bits.</summary>
    public static float Dot512(byte* w, byte* a, int n) => DotOnce(w, a, n, SimdLevel.Vector512);
    public static float Dot256(byte* w, byte* a, int n) => DotOnce(w, a, n, SimdLevel.Vector256);
    public static float Dot128(byte* w, byte* a, int n) => DotOnce(w, a, n, SimdLevel.Vector128);

    static float DotOnce(byte* w, byte* a, int n, SimdLevel level)
    {
        float* aw = F16Rows.Scratch(ref t_activation, n);
        WidenActivation((ushort*)a, aw, n, level);
        return Dot((ushort*)w, aw, n, level);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot(ushort* w, float* aw, int n, SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => Row512(w, aw, n),
        SimdLevel.Vector256 => Row256(w, aw, n),
        _ => Row128(w, aw, n),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Lo(Vector512<ushort> h) => Avx512BW.UnpackLow(Vector512<ushort>.Zero, h).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Hi(Vector512<ushort> h) => Avx512BW.UnpackHigh(Vector512<ushort>.Zero, h).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Lo(Vector256<ushort> h) => Avx2.UnpackLow(Vector256<ushort>.Zero, h).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Hi(Vector256<ushort> h) => Avx2.UnpackHigh(Vector256<ushort>.Zero, h).AsSingle();
    // Vector128 is also the portable tier: without SSE2 the natural-order widen gives the same lanes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Lo(Vector128<ushort> h) =>
        Sse2.IsSupported ? Sse2.UnpackLow(Vector128<ushort>.Zero, h).AsSingle() : (Vector128.WidenLower(h) << 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Hi(Vector128<ushort> h) =>
        Sse2.IsSupported ? Sse2.UnpackHigh(Vector128<ushort>.Zero, h).AsSingle() : (Vector128.WidenUpper(h) << 16).AsSingle();

    /// <summary>dst = float(a) in the lane order of this level's steps, the tail in natural order.</summary>
    public static void WidenActivation(ushort* a, float* dst, int n, SimdLevel level)
    {
        int i = 0;
        if (level == SimdLevel.Vector512)
            for (; i + 32 <= n; i += 32)
            {
                var h = Vector512.Load(a + i);
                Vector512.Store(Lo(h), dst + i);
                Vector512.Store(Hi(h), dst + i + 16);
            }
        else if (level == SimdLevel.Vector256)
            for (; i + 16 <= n; i += 16)
            {
                var h = Vector256.Load(a + i);
                Vector256.Store(Lo(h), dst + i);
                Vector256.Store(Hi(h), dst + i + 8);
            }
        else
            for (; i + 8 <= n; i += 8)
            {
                var h = Vector128.Load(a + i);
                Vector128.Store(Lo(h), dst + i);
                Vector128.Store(Hi(h), dst + i + 4);
            }
        for (; i < n; i++) dst[i] = QuantMath.Bf16ToFloat(a[i]);
    }

    /// <summary>64 weights per step into four independent accumulators, one 32-weight step, the tail.</summary>
    static float Row512(ushort* w, float* aw, int n)
    {
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        int i = 0;
        for (; i + 64 <= n; i += 64)
        {
            var h0 = Vector512.Load(w + i);
            var h1 = Vector512.Load(w + i + 32);
            acc0 = Vector512.FusedMultiplyAdd(Lo(h0), Vector512.Load(aw + i), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Hi(h0), Vector512.Load(aw + i + 16), acc1);
            acc2 = Vector512.FusedMultiplyAdd(Lo(h1), Vector512.Load(aw + i + 32), acc2);
            acc3 = Vector512.FusedMultiplyAdd(Hi(h1), Vector512.Load(aw + i + 48), acc3);
        }
        if (i + 32 <= n)
        {
            var h0 = Vector512.Load(w + i);
            acc0 = Vector512.FusedMultiplyAdd(Lo(h0), Vector512.Load(aw + i), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Hi(h0), Vector512.Load(aw + i + 16), acc1);
            i += 32;
        }
        return Tail(w, aw, i, n, Vector512.Sum((acc0 + acc2) + (acc1 + acc3)));
    }

    static float Row256(ushort* w, float* aw, int n)
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            var h0 = Vector256.Load(w + i);
            var h1 = Vector256.Load(w + i + 16);
            acc0 = Vector256.FusedMultiplyAdd(Lo(h0), Vector256.Load(aw + i), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Hi(h0), Vector256.Load(aw + i + 8), acc1);
            acc2 = Vector256.FusedMultiplyAdd(Lo(h1), Vector256.Load(aw + i + 16), acc2);
            acc3 = Vector256.FusedMultiplyAdd(Hi(h1), Vector256.Load(aw + i + 24), acc3);
        }
        if (i + 16 <= n)
        {
            var h0 = Vector256.Load(w + i);
            acc0 = Vector256.FusedMultiplyAdd(Lo(h0), Vector256.Load(aw + i), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Hi(h0), Vector256.Load(aw + i + 8), acc1);
            i += 16;
        }
        return Tail(w, aw, i, n, Vector256.Sum((acc0 + acc2) + (acc1 + acc3)));
    }

    static float Row128(ushort* w, float* aw, int n)
    {
        Vector128<float> acc0 = default, acc1 = default;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var h0 = Vector128.Load(w + i);
            acc0 = Vector128.FusedMultiplyAdd(Lo(h0), Vector128.Load(aw + i), acc0);
            acc1 = Vector128.FusedMultiplyAdd(Hi(h0), Vector128.Load(aw + i + 4), acc1);
        }
        return Tail(w, aw, i, n, Vector128.Sum(acc0 + acc1));
    }

    static float Tail(ushort* w, float* aw, int i, int n, float sum)
    {
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(QuantMath.Bf16ToFloat(w[i]), aw[i], sum);
        return sum;
    }
}
