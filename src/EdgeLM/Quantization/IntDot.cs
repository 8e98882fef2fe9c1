// Exact int8 x int8 dot-product building blocks for each vector width, shared by the quantized dots.
// Inputs are in [-127, 127] on the activation side (Q8 quantizers never emit -128) and in [-32, 31] or
// [0, 31] on the weight side, so the 16-bit pair sums below cannot saturate.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal static class IntDot
{
    /// <summary>32 signed pairs -> 8 int lanes, lane j = sum of elements 4j..4j+3. The sign trick moves
    /// x's sign onto y so vpmaddubsw (unsigned x signed) can multiply signed values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<sbyte> x, Vector256<sbyte> y)
    {
        var p16 = Avx2.MultiplyAddAdjacent(Avx2.Abs(x), Avx2.Sign(y, x));
        return Avx2.MultiplyAddAdjacent(p16, Vector256<short>.One);
    }

    /// <summary>32 pairs with an unsigned weight side (0..63) -> 8 int lanes, each pair sum times scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotUnsigned(Vector256<byte> x, Vector256<sbyte> y, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, y), scale);

    /// <summary>64 signed pairs -> 16 int lanes, lane j = sum of elements 4j..4j+3 (AVX-512 has no
    /// vpsignb, so y is negated under a compare mask instead).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Dot(Vector512<sbyte> x, Vector512<sbyte> y)
    {
        var sy = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<sbyte>.Zero).AsSByte(), -y, y);
        var p16 = Avx512BW.MultiplyAddAdjacent(Avx512BW.Abs(x), sy);
        return Avx512BW.MultiplyAddAdjacent(p16, Vector512<short>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> DotUnsigned(Vector512<byte> x, Vector512<sbyte> y, Vector512<short> scale) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(x, y), scale);

    /// <summary>16 signed pairs -> 4 int lanes whose sum is the dot (portable: widen to 16 bits,
    /// multiply, widen to 32 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Dot(Vector128<sbyte> x, Vector128<sbyte> y)
    {
        var pl = Vector128.WidenLower(x) * Vector128.WidenLower(y);
        var ph = Vector128.WidenUpper(x) * Vector128.WidenUpper(y);
        return Vector128.WidenLower(pl) + Vector128.WidenUpper(pl) + Vector128.WidenLower(ph) + Vector128.WidenUpper(ph);
    }
}
