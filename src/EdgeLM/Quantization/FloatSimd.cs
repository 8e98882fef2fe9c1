// SIMD dots of F16 and BF16 rows: widen to float in registers (bit manipulation, no tables) and
// accumulate with FMA in one vector accumulator; scalar tail. Differs from the double-accumulating
// scalar reference by float rounding only.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeLM.Quantization;

internal static unsafe class F16Simd
{
    public static delegate*<byte*, byte*, int, float> Resolve(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => &Dot512,
        SimdLevel.Vector256 => &Dot256,
        _ => &Dot128,
    };

    /// <summary>binary16 -> binary32 for any input: shifting the 15 magnitude bits up by 13 and
    /// multiplying by 2^112 rebiases the exponent and also normalizes subnormals exactly; exponent 31
    /// (inf/NaN) is patched to 255; the sign is or-ed back.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Widen(Vector256<uint> h)
    {
        var mag = (h & Vector256.Create(0x7fffu)) << 13;
        var f = mag.AsSingle() * Vector256.Create(5.192297e33f); // 2^112
        var special = Vector256.GreaterThanOrEqual(mag, Vector256.Create(0x7c00u << 13)).AsSingle();
        f |= special & Vector256.Create(0x7f800000u).AsSingle();
        return f | ((h & Vector256.Create(0x8000u)) << 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Widen(Vector128<uint> h)
    {
        var mag = (h & Vector128.Create(0x7fffu)) << 13;
        var f = mag.AsSingle() * Vector128.Create(5.192297e33f);
        var special = Vector128.GreaterThanOrEqual(mag, Vector128.Create(0x7c00u << 13)).AsSingle();
        f |= special & Vector128.Create(0x7f800000u).AsSingle();
        return f | ((h & Vector128.Create(0x8000u)) << 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Widen(Vector512<uint> h)
    {
        var mag = (h & Vector512.Create(0x7fffu)) << 13;
        var f = mag.AsSingle() * Vector512.Create(5.192297e33f);
        var special = Vector512.GreaterThanOrEqual(mag, Vector512.Create(0x7c00u << 13)).AsSingle();
        f |= special & Vector512.Create(0x7f800000u).AsSingle();
        return f | ((h & Vector512.Create(0x8000u)) << 16).AsSingle();
    }

    static float Dot128(byte* w, byte* a, int n)
    {
        var acc = Vector128<float>.Zero;
        int i = 0;
        for (; i + 4 <= n; i += 4)
        {
            var x = Widen(Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)(w + 2 * i)).AsUInt16()));
            var y = Widen(Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)(a + 2 * i)).AsUInt16()));
            acc = Vector128.FusedMultiplyAdd(x, y, acc);
        }
        return Vector128.Sum(acc) + F16.VecDot((ushort*)w + i, (ushort*)a + i, n - i);
    }

    static float Dot256(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var x = Widen(Vector256.WidenLower(Vector256.Create(Vector128.Load((ushort*)w + i), Vector128<ushort>.Zero)));
            var y = Widen(Vector256.WidenLower(Vector256.Create(Vector128.Load((ushort*)a + i), Vector128<ushort>.Zero)));
            acc = Vector256.FusedMultiplyAdd(x, y, acc);
        }
        return Vector256.Sum(acc) + F16.VecDot((ushort*)w + i, (ushort*)a + i, n - i);
    }

    /// <summary>32 halves per step from whole 512-bit loads, widened in two halves into two independent
    /// accumulators (so consecutive FMAs do not wait on each other).</summary>
    static float Dot512(byte* w, byte* a, int n)
    {
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            var x = Vector512.Load((ushort*)w + i);
            var y = Vector512.Load((ushort*)a + i);
            acc0 = Vector512.FusedMultiplyAdd(Widen(Vector512.WidenLower(x)), Widen(Vector512.WidenLower(y)), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Widen(Vector512.WidenUpper(x)), Widen(Vector512.WidenUpper(y)), acc1);
        }
        return Vector512.Sum(acc0 + acc1) + F16.VecDot((ushort*)w + i, (ushort*)a + i, n - i);
    }
}

internal static unsafe class BF16Simd
{
    public static delegate*<byte*, byte*, int, float> Resolve(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => &Dot512,
        SimdLevel.Vector256 => &Dot256,
        _ => &Dot128,
    };

    // bfloat16 is the top half of a float: widening to 32 bits and shifting left by 16 is exact.
    static float Dot128(byte* w, byte* a, int n)
    {
        var acc = Vector128<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var x = Vector128.Load((ushort*)w + i);
            var y = Vector128.Load((ushort*)a + i);
            acc = Vector128.FusedMultiplyAdd((Vector128.WidenLower(x) << 16).AsSingle(), (Vector128.WidenLower(y) << 16).AsSingle(), acc);
            acc = Vector128.FusedMultiplyAdd((Vector128.WidenUpper(x) << 16).AsSingle(), (Vector128.WidenUpper(y) << 16).AsSingle(), acc);
        }
        return Vector128.Sum(acc) + BF16.VecDot((ushort*)w + i, (ushort*)a + i, n - i);
    }

    static float Dot256(byte* w, byte* a, int n)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var x = Vector256.Load((ushort*)w + i);
            var y = Vector256.Load((ushort*)a + i);
            acc = Vector256.FusedMultiplyAdd((Vector256.WidenLower(x) << 16).AsSingle(), (Vector256.WidenLower(y) << 16).AsSingle(), acc);
            acc = Vector256.FusedMultiplyAdd((Vector256.WidenUpper(x) << 16).AsSingle(), (Vector256.WidenUpper(y) << 16).AsSingle(), acc);
        }
        return Vector256.Sum(acc) + BF16.VecDot((ushort*)w + i, (ushort*)a + i, n - i);
    }

    static float Dot512(byte* w, byte* a, int n)
    {
        var acc = Vector512<float>.Zero;
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            var x = Vector512.Load((ushort*)w + i);
            var y = Vector512.Load((ushort*)a + i);
            acc = Vector512.FusedMultiplyAdd((Vector512.WidenLower(x) << 16).AsSingle(), (Vector512.WidenLower(y) << 16).AsSingle(), acc);
            acc = Vector512.FusedMultiplyAdd((Vector512.WidenUpper(x) << 16).AsSingle(), (Vector512.WidenUpper(y) << 16).AsSingle(), acc);
        }
        return Vector512.Sum(acc) + BF16.VecDot((ushort*)w + i, (ushort*)a + i, n - i);
    }
}
