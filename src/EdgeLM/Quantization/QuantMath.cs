// Scalar helpers shared by the formats: half and bfloat16 conversion as ggml does them, and ggml's
// nearest_int. Not a kernel; the per-format files call these inside their block loops.
// Spec: ggml-impl.h (GGML_FP32_TO_FP16, GGML_FP32_TO_BF16), ggml-quants.c (nearest_int).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeLM.Quantization;

internal static class QuantMath
{
    /// <summary>IEEE binary16 round-to-nearest-even, as F16C's vcvtps2ph with imm 0 and ggml's
    /// bit-twiddling fallback; System.Half's conversion is that (checked against ggml in tests).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToHalf(float f) => BitConverter.HalfToUInt16Bits((Half)f);

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
