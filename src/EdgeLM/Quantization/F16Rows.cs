// F16 weight rows against one F16 activation row (decode): the activation is widened to float once
// per product, pre-scaled by 2^112, and each weight half costs an unpack, a shift and a mask.
// Not the scalar reference (F16.VecDot) and not the micro-batch kernel (F16Gemm.cs).
// Spec: IEEE 754 binary16 / binary32 layouts; llama.cpp computes the same products with F16C.
//
// The widening: a half h in the high 16 bits of a 32-bit lane (an unpack against zero), shifted right
// arithmetically by 3 and masked with FieldMask, has its sign in place, its 5 exponent bits at the
// bottom of the float exponent field and its mantissa at the top of the float mantissa: read as a
// float it is exactly value(h) · 2^-112, subnormal halves included (they become float subnormals).
// Multiplying the activation by 2^112 instead of each weight makes w · a exact and unscaled, so the
// FMA gives the same product and sum a widened weight would. Exponent 31 (inf, NaN) would read as a
// finite number, so a running max of |h| watches for it and such a row is redone by the reference.
// The unpack works inside 128-bit lanes: a step of 2W halves gives W lanes in the order Lo/Hi below,
// and the activation is stored in that same order, so every weight meets its own activation.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class F16Rows
{
    /// <summary>Sign, exponent and mantissa fields after (h &lt;&lt; 16) >> 3 (arithmetic).</summary>
    const uint FieldMask = 0x8FFFE000u;
    /// <summary>2^112: binary16's exponent bias 15 against binary32's 127.</summary>
    const float Two112 = 5.192297e33f;
    /// <summary>|h| at or above this is infinity or NaN.</summary>
    const ushort SpecialMagnitude = 0x7c00;

    [ThreadStatic] static float[]? t_activation;

    /// <summary>A pinned per-thread scratch of at least n floats (grown only, so calls do not allocate
    /// once a thread has seen the largest row).</summary>
    internal static float* Scratch(ref float[]? buffer, int n)
    {
        if (buffer is null || buffer.Length < n)
            buffer = GC.AllocateUninitializedArray<float>(Math.Max(n, 1024), pinned: true);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }

    /// <summary>y[r] = dot(W[r], a) for <paramref name="rows"/> rows rowBytes apart; a is F16.</summary>
    public static void Rows(byte* w, long rowBytes, int rows, ushort* a, float* y, int n, SimdLevel level)
    {
        float* aw = Scratch(ref t_activation, n);
        WidenActivation(a, aw, n, level);
        for (int r = 0; r < rows; r++, w += rowBytes) y[r] = Dot((ushort*)w, aw, a, n, level);
    }

    /// <summary>One dot (the QuantDots entry): widens a, then the same kernel as <see cref="Rows"/>,
    /// so both give the same bits.</summary>
    public static float Dot512(byte* w, byte* a, int n) => DotOnce(w, a, n, SimdLevel.Vector512);
    public static float Dot256(byte* w, byte* a, int n) => DotOnce(w, a, n, SimdLevel.Vector256);
    public static float Dot128(byte* w, byte* a, int n) => DotOnce(w, a, n, SimdLevel.Vector128);

    static float DotOnce(byte* w, byte* a, int n, SimdLevel level)
    {
        float* aw = Scratch(ref t_activation, n);
        WidenActivation((ushort*)a, aw, n, level);
        return Dot((ushort*)w, aw, (ushort*)a, n, level);
    }

    /// <summary>dot(w, a) with a already widened into aw by <see cref="WidenActivation"/> at this level.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot(ushort* w, float* aw, ushort* a, int n, SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => Row512(w, aw, a, n),
        SimdLevel.Vector256 => Row256(w, aw, a, n),
        _ => Row128(w, aw, a, n),
    };

    // Lane order of one step (shared with F16Gemm): Lo holds halves 0-3 of each 128-bit lane, Hi 4-7.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Lo(Vector512<ushort> h) =>
        (Avx512BW.UnpackLow(Vector512<ushort>.Zero, h).AsInt32() >> 3 & Vector512.Create(FieldMask).AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Hi(Vector512<ushort> h) =>
        (Avx512BW.UnpackHigh(Vector512<ushort>.Zero, h).AsInt32() >> 3 & Vector512.Create(FieldMask).AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Lo(Vector256<ushort> h) =>
        (Avx2.UnpackLow(Vector256<ushort>.Zero, h).AsInt32() >> 3 & Vector256.Create(FieldMask).AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Hi(Vector256<ushort> h) =>
        (Avx2.UnpackHigh(Vector256<ushort>.Zero, h).AsInt32() >> 3 & Vector256.Create(FieldMask).AsInt32()).AsSingle();

    // Vector128 is also the portable tier: without SSE2 the natural-order widen gives the same lanes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Lo(Vector128<ushort> h) =>
        ((Sse2.IsSupported ? Sse2.UnpackLow(Vector128<ushort>.Zero, h).AsInt32() : (Vector128.WidenLower(h) << 16).AsInt32()) >> 3
            & Vector128.Create(FieldMask).AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Hi(Vector128<ushort> h) =>
        ((Sse2.IsSupported ? Sse2.UnpackHigh(Vector128<ushort>.Zero, h).AsInt32() : (Vector128.WidenUpper(h) << 16).AsInt32()) >> 3
            & Vector128.Create(FieldMask).AsInt32()).AsSingle();

    /// <summary>value(h) · 2^-112 for a finite h (the scalar form of Lo/Hi).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Field(ushort h) => BitConverter.UInt32BitsToSingle((uint)((int)((uint)h << 16) >> 3) & FieldMask);

    /// <summary>dst = a · 2^112 in the lane order of this level's steps (2W halves), the tail in
    /// natural order. Exact: |a| ≤ 65504 stays below float's maximum; inf and NaN stay inf and NaN.</summary>
    public static void WidenActivation(ushort* a, float* dst, int n, SimdLevel level)
    {
        int i = 0;
        if (level == SimdLevel.Vector512)
            for (; i + 32 <= n; i += 32)
            {
                var h = Vector512.Load(a + i);
                Vector512.Store(Scale(Lo(h)), dst + i);
                Vector512.Store(Scale(Hi(h)), dst + i + 16);
            }
        else if (level == SimdLevel.Vector256)
            for (; i + 16 <= n; i += 16)
            {
                var h = Vector256.Load(a + i);
                Vector256.Store(Scale(Lo(h)), dst + i);
                Vector256.Store(Scale(Hi(h)), dst + i + 8);
            }
        else
            for (; i + 8 <= n; i += 8)
            {
                var h = Vector128.Load(a + i);
                Vector128.Store(Scale(Lo(h)), dst + i);
                Vector128.Store(Scale(Hi(h)), dst + i + 4);
            }
        for (; i < n; i++) dst[i] = QuantMath.HalfToFloat(a[i]) * Two112;
    }

    // field · 2^112 · 2^112 = value · 2^112; exponent field 31 is set to float's inf/NaN exponent instead.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Scale(Vector512<float> f)
    {
        var u = f.AsUInt32();
        var special = Vector512.Equals(u & Vector512.Create(0x0F800000u), Vector512.Create(0x0F800000u));
        var inf = (u & Vector512.Create(0x807FE000u)) | Vector512.Create(0x7F800000u);
        return Vector512.ConditionalSelect(special, inf, (f * Vector512.Create(Two112) * Vector512.Create(Two112)).AsUInt32()).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Scale(Vector256<float> f)
    {
        var u = f.AsUInt32();
        var special = Vector256.Equals(u & Vector256.Create(0x0F800000u), Vector256.Create(0x0F800000u));
        var inf = (u & Vector256.Create(0x807FE000u)) | Vector256.Create(0x7F800000u);
        return Vector256.ConditionalSelect(special, inf, (f * Vector256.Create(Two112) * Vector256.Create(Two112)).AsUInt32()).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Scale(Vector128<float> f)
    {
        var u = f.AsUInt32();
        var special = Vector128.Equals(u & Vector128.Create(0x0F800000u), Vector128.Create(0x0F800000u));
        var inf = (u & Vector128.Create(0x807FE000u)) | Vector128.Create(0x7F800000u);
        return Vector128.ConditionalSelect(special, inf, (f * Vector128.Create(Two112) * Vector128.Create(Two112)).AsUInt32()).AsSingle();
    }

    /// <summary>64 halves per step into four independent accumulators (an FMA's latency is hidden by
    /// the other three), then one 32-half step, then the scalar tail.</summary>
    static float Row512(ushort* w, float* aw, ushort* a, int n)
    {
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        var mag = Vector512.Create((ushort)0x7fff);
        var max = Vector512<ushort>.Zero;
        int i = 0;
        for (; i + 64 <= n; i += 64)
        {
            var h0 = Vector512.Load(w + i);
            var h1 = Vector512.Load(w + i + 32);
            max = Vector512.Max(max, Vector512.Max(h0 & mag, h1 & mag));
            acc0 = Vector512.FusedMultiplyAdd(Lo(h0), Vector512.Load(aw + i), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Hi(h0), Vector512.Load(aw + i + 16), acc1);
            acc2 = Vector512.FusedMultiplyAdd(Lo(h1), Vector512.Load(aw + i + 32), acc2);
            acc3 = Vector512.FusedMultiplyAdd(Hi(h1), Vector512.Load(aw + i + 48), acc3);
        }
        if (i + 32 <= n)
        {
            var h0 = Vector512.Load(w + i);
            max = Vector512.Max(max, h0 & mag);
            acc0 = Vector512.FusedMultiplyAdd(Lo(h0), Vector512.Load(aw + i), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Hi(h0), Vector512.Load(aw + i + 16), acc1);
            i += 32;
        }
        if (Vector512.GreaterThanOrEqualAny(max, Vector512.Create(SpecialMagnitude))) return F16.VecDot(w, a, n);
        return Tail(w, aw, a, i, n, Vector512.Sum((acc0 + acc2) + (acc1 + acc3)));
    }

    static float Row256(ushort* w, float* aw, ushort* a, int n)
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        var mag = Vector256.Create((ushort)0x7fff);
        var max = Vector256<ushort>.Zero;
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            var h0 = Vector256.Load(w + i);
            var h1 = Vector256.Load(w + i + 16);
            max = Vector256.Max(max, Vector256.Max(h0 & mag, h1 & mag));
            acc0 = Vector256.FusedMultiplyAdd(Lo(h0), Vector256.Load(aw + i), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Hi(h0), Vector256.Load(aw + i + 8), acc1);
            acc2 = Vector256.FusedMultiplyAdd(Lo(h1), Vector256.Load(aw + i + 16), acc2);
            acc3 = Vector256.FusedMultiplyAdd(Hi(h1), Vector256.Load(aw + i + 24), acc3);
        }
        if (i + 16 <= n)
        {
            var h0 = Vector256.Load(w + i);
            max = Vector256.Max(max, h0 & mag);
            acc0 = Vector256.FusedMultiplyAdd(Lo(h0), Vector256.Load(aw + i), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Hi(h0), Vector256.Load(aw + i + 8), acc1);
            i += 16;
        }
        if (Vector256.GreaterThanOrEqualAny(max, Vector256.Create(SpecialMagnitude))) return F16.VecDot(w, a, n);
        return Tail(w, aw, a, i, n, Vector256.Sum((acc0 + acc2) + (acc1 + acc3)));
    }

    static float Row128(ushort* w, float* aw, ushort* a, int n)
    {
        Vector128<float> acc0 = default, acc1 = default;
        var mag = Vector128.Create((ushort)0x7fff);
        var max = Vector128<ushort>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var h0 = Vector128.Load(w + i);
            max = Vector128.Max(max, h0 & mag);
            acc0 = Vector128.FusedMultiplyAdd(Lo(h0), Vector128.Load(aw + i), acc0);
            acc1 = Vector128.FusedMultiplyAdd(Hi(h0), Vector128.Load(aw + i + 4), acc1);
        }
        if (Vector128.GreaterThanOrEqualAny(max, Vector128.Create(SpecialMagnitude))) return F16.VecDot(w, a, n);
        return Tail(w, aw, a, i, n, Vector128.Sum(acc0 + acc1));
    }

    /// <summary>Elements [i, n) one by one, with the same special-value rule as the vector steps.</summary>
    static float Tail(ushort* w, float* aw, ushort* a, int i, int n, float sum)
    {
        for (; i < n; i++)
        {
            if ((w[i] & 0x7fff) >= SpecialMagnitude) return F16.VecDot(w, a, n);
            sum = MathF.FusedMultiplyAdd(Field(w[i]), aw[i], sum);
        }
        return sum;
    }
}
