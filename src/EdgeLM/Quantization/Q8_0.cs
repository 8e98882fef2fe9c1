// Q8_0: blocks of 32 int8 with one fp16 scale (ggml block_q8_0, 34 bytes: d at 0, qs at 2).
// Reference quantization (quantize_row_q8_0_ref, roundf and 1/d) for weights, the x86 CPU activation
// quantization (quantize_row_q8_0 AVX path: 127/amax and round-to-nearest-even), dequantization and
// the scalar dot product against Q8_0. Not the SIMD dots (Q8_0.Simd.cs).
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_0
{
    public const int QK = 32;
    public ushort D;
    public fixed sbyte Qs[QK];
}

internal static unsafe class Q8_0
{
    public const int QK = BlockQ8_0.QK;

    /// <summary>quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d) (ties away from zero).</summary>
    public static void QuantizeRef(float* x, BlockQ8_0* y, int k)
    {
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float amax = 0;
            for (int j = 0; j < QK; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = QuantMath.FloatToHalf(d);
            for (int j = 0; j < QK; j++) y[i].Qs[j] = (sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>What llama.cpp's x86 CPU backend runs for activations (ggml-cpu quantize_row_q8_0, AVX
    /// path): id = 127/amax rather than 1/d, and _mm256_round_ps(NEAREST), i.e. ties to even.</summary>
    public static void QuantizeActivation(float* x, BlockQ8_0* y, int k)
    {
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float amax = 0;
            for (int j = 0; j < QK; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            y[i].D = QuantMath.FloatToHalf(amax / 127f);
            float id = amax != 0 ? 127f / amax : 0f;
            for (int j = 0; j < QK; j++) y[i].Qs[j] = (sbyte)MathF.Round(x[j] * id);
        }
    }

    public static void Dequantize(BlockQ8_0* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++)
        {
            float d = QuantMath.HalfToFloat(x[i].D);
            for (int j = 0; j < QK; j++) y[i * QK + j] = x[i].Qs[j] * d;
        }
    }

    /// <summary>Scalar reference: exact integer sum per block, then sumf += sumi * (dx * dy).</summary>
    public static float VecDot(BlockQ8_0* x, BlockQ8_0* y, int n)
    {
        float sumf = 0;
        for (int ib = 0; ib < n / QK; ib++)
        {
            int sumi = 0;
            for (int j = 0; j < QK; j++) sumi += x[ib].Qs[j] * y[ib].Qs[j];
            sumf += sumi * (QuantMath.HalfToFloat(x[ib].D) * QuantMath.HalfToFloat(y[ib].D));
        }
        return sumf;
    }
}
