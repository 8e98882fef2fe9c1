// SIMD dots of BF16 rows: widen to float in registers (a shift) and accumulate with FMA in one vector
// accumulator; scalar tail. Differs from the double-accumulating scalar reference by float rounding
// only. F16 rows have their own kernels (F16Rows.cs, F16Gemm.cs).
using System.Runtime.Intrinsics;

namespace EdgeLM.Quantization;

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
