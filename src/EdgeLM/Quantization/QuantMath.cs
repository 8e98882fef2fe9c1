// Scalar helpers shared by the formats: half and bfloat16 conversion as ggml does them, and ggml's
// nearest_int. Not a kernel; the per-format files call these inside their block loops.
// Spec: ggml-impl.h (GGML_FP32_TO_FP16, GGML_FP32_TO_BF16), ggml-quants.c (nearest_int).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal static class QuantMath
{
    /// <summary>IEEE binary16 round-to-nearest-even, as F16C's vcvtps2ph with imm 0 and ggml's
    /// bit-twiddling fallback; System.Half's conversion is that (checked against ggml in tests), but it is
    /// an out-of-line software routine and the activation quantizers call this once per block (it was
    /// most of Q8_0's quantization time). So: inline, with System.Half kept for infinities and NaNs.
    /// Normal results add the rounding bias (0xfff plus the kept mantissa's lowest bit, which makes ties go
    /// to even) below the 13 dropped bits; halves too small to be normal are rounded by the FPU, adding a
    /// float whose exponent puts the half's last bit at the float's last bit (F. Giesen's method).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToHalf(float f)
    {
        const uint HalfOverflow = (127 + 16) << 23, NormalMin = 113 << 23, DenormMagic = ((127 - 15) + (23 - 10) + 1) << 23;
        uint x = BitConverter.SingleToUInt32Bits(f);
        uint sign = (x >> 16) & 0x8000u, mag = x & 0x7fffffffu;
        if (mag >= HalfOverflow) return BitConverter.HalfToUInt16Bits((Half)f); // infinity, NaN, or rounds to infinity
        if (mag < NormalMin)
        {
            float r = BitConverter.UInt32BitsToSingle(mag) + BitConverter.UInt32BitsToSingle(DenormMagic);
            return (ushort)(sign | (BitConverter.SingleToUInt32Bits(r) - DenormMagic));
        }
        uint rounded = mag + unchecked((uint)((15 - 127) << 23)) + 0xfffu + ((mag >> 13) & 1);
        return (ushort)(sign | (rounded >> 13));
    }

    /// <summary>Exact widening of binary16 to float, bit-identical to System.Half's conversion (the
    /// tests compare all 65536 inputs) but inlined: the runtime's conversion is an out-of-line software
    /// routine, and the quantized dots call this once or twice per block. Shifting the 15 magnitude
    /// bits up by 13 and multiplying by 2^112 rebiases the exponent and normalizes subnormals exactly;
    /// exponent 31 (inf, NaN with the quiet bit set as the runtime does) takes the rare branch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalfToFloat(ushort h)
    {
        uint mag = (uint)(h & 0x7fff) << 13;
        uint sign = (uint)(h & 0x8000) << 16;
        if (mag >= 0x7c00u << 13) return SpecialHalfToFloat(mag, sign);
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(mag) * 5.192297e33f) | sign);
    }

    /// <summary>Four binary16 values (zero-extended to 32 bits) widened at once, as the scalar form;
    /// infinities and NaNs get exponent 255 (NaN payloads are not normalized: scales never hold them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> HalfToFloat(Vector128<uint> h)
    {
        var mag = (h & Vector128.Create(0x7fffu)) << 13;
        var f = mag.AsSingle() * Vector128.Create(5.192297e33f); // 2^112
        var special = Vector128.GreaterThanOrEqual(mag, Vector128.Create(0x7c00u << 13)).AsSingle();
        f |= special & Vector128.Create(0x7f800000u).AsSingle();
        return f | ((h & Vector128.Create(0x8000u)) << 16).AsSingle();
    }

    /// <summary>Eight binary16 values widened at once, as the Vector128 form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> HalfToFloat(Vector256<uint> h)
    {
        var mag = (h & Vector256.Create(0x7fffu)) << 13;
        var f = mag.AsSingle() * Vector256.Create(5.192297e33f); // 2^112
        var special = Vector256.GreaterThanOrEqual(mag, Vector256.Create(0x7c00u << 13)).AsSingle();
        f |= special & Vector256.Create(0x7f800000u).AsSingle();
        return f | ((h & Vector256.Create(0x8000u)) << 16).AsSingle();
    }

    /// <summary>Sixteen binary16 values at h widened exactly, provided none is an infinity or NaN (those come out as
    /// finite values of magnitude 2^16 or more): sign-extended to 32 bits, the 15 magnitude bits shifted into a
    /// float's exponent and mantissa and the three copies of the sign above them masked off (a float 2^-112 times
    /// the value, normal or not), then scaled by 2^112 (exact). Four instructions against the general form's nine.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> FiniteHalfToFloat(ushort* h)
    {
        var bits = Avx512F.ConvertToVector512Int32(Vector256.Load((short*)h)) << 13;
        return (bits & Vector512.Create(unchecked((int)0x8FFFFFFF))).AsSingle() * Vector512.Create(5.192297e33f); // 2^112
    }

    /// <summary>Sixteen binary16 values widened at once, as the Vector128 form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> HalfToFloat(Vector512<uint> h)
    {
        var mag = (h & Vector512.Create(0x7fffu)) << 13;
        var f = mag.AsSingle() * Vector512.Create(5.192297e33f); // 2^112
        var special = Vector512.GreaterThanOrEqual(mag, Vector512.Create(0x7c00u << 13)).AsSingle();
        f |= special & Vector512.Create(0x7f800000u).AsSingle();
        return f | ((h & Vector512.Create(0x8000u)) << 16).AsSingle();
    }

    /// <summary>x rounded to the nearest binary16 value (ties to even) and widened back: what a value
    /// loses on its way through an F16 tensor, without the 16-bit detour. Half subnormals (|x| &lt; 2^-14)
    /// are multiples of 2^-24, which adding and removing 0.5 rounds to; normal values keep 10 mantissa
    /// bits by the usual add-and-mask; |x| ≥ 65520 becomes infinity; NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundToHalf(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        uint sign = u & 0x80000000u;
        float a = MathF.Abs(x);
        if (!(a < 65520f)) return float.IsNaN(x) ? x : BitConverter.UInt32BitsToSingle(sign | 0x7f800000u);
        if (a < 6.1035156e-5f) return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(a + 0.5f - 0.5f) | sign);
        uint m = u & 0x7fffffffu;
        return BitConverter.UInt32BitsToSingle(((m + 0xfffu + ((m >> 13) & 1u)) & ~0x1fffu) | sign);
    }

    /// <summary>Sixteen values rounded as <see cref="RoundToHalf(float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> RoundToHalf(Vector512<float> x)
    {
        var u = x.AsUInt32();
        var sign = u & Vector512.Create(0x80000000u);
        var m = u & Vector512.Create(0x7fffffffu);
        var a = m.AsSingle();
        var small = (a + Vector512.Create(0.5f) - Vector512.Create(0.5f)).AsUInt32();
        var normal = (m + Vector512.Create(0xfffu) + ((m >> 13) & Vector512<uint>.One)) & Vector512.Create(~0x1fffu);
        var r = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(6.1035156e-5f)).AsUInt32(), small, normal);
        r = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a, Vector512.Create(65520f)).AsUInt32(), Vector512.Create(0x7f800000u), r);
        var result = (r | sign).AsSingle();
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x); // NaN stays
    }

    /// <summary>Eight values rounded as <see cref="RoundToHalf(float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> RoundToHalf(Vector256<float> x)
    {
        var u = x.AsUInt32();
        var sign = u & Vector256.Create(0x80000000u);
        var m = u & Vector256.Create(0x7fffffffu);
        var a = m.AsSingle();
        var small = (a + Vector256.Create(0.5f) - Vector256.Create(0.5f)).AsUInt32();
        var normal = (m + Vector256.Create(0xfffu) + ((m >> 13) & Vector256<uint>.One)) & Vector256.Create(~0x1fffu);
        var r = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(6.1035156e-5f)).AsUInt32(), small, normal);
        r = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(65520f)).AsUInt32(), Vector256.Create(0x7f800000u), r);
        var result = (r | sign).AsSingle();
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }

    static float SpecialHalfToFloat(uint mag, uint sign) =>
        BitConverter.UInt32BitsToSingle(sign | 0x7f800000u | (mag & 0x7fffff) | (mag != 0x7c00u << 13 ? 0x400000u : 0));

    /// <summary>GGML_FP32_TO_BF16: round to nearest even on the upper 16 bits; NaN kept quiet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 64); // NaN: force the quiet bit
        return (ushort)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16ToFloat(ushort h) => BitConverter.UInt32BitsToSingle((uint)h << 16);

    /// <summary>ggml's nearest_int: adding 1.5 * 2^23 makes the FPU round to an integer (to nearest
    /// even) in the low mantissa bits; valid for |f| &lt;= 2^22.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NearestInt(float f)
    {
        float v = f + 12582912f;
        return (int)(BitConverter.SingleToUInt32Bits(v) & 0x007fffff) - 0x00400000;
    }
}
