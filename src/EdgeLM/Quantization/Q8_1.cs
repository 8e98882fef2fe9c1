// Q8_1: blocks of 32 int8 with fp16 scale d and fp16 s = d * sum(qs) (ggml block_q8_1, 36 bytes:
// d at 0, s at 2, qs at 4). The activation type for Q4_1 and Q5_1 weights. Reference quantization
// (quantize_row_q8_1_ref) and the x86 CPU activation path (127/amax, ties to even); no dot of its own.
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_1
{
    public const int QK = 32;
    public ushort D;
    public ushort S;
    public fixed sbyte Qs[QK];
}

internal static unsafe class Q8_1
{
    public const int QK = BlockQ8_1.QK;

    public static void QuantizeRef(float* x, BlockQ8_1* y, int k)
    {
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float amax = 0;
            for (int j = 0; j < QK; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = QuantMath.FloatToHalf(d);
            int sum = 0;
            for (int j = 0; j < QK; j++)
            {
                sbyte q = (sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
                y[i].Qs[j] = q;
                sum += q;
            }
            y[i].S = QuantMath.FloatToHalf(sum * d);
        }
    }

    /// <summary>ggml-cpu's x86 quantize_row_q8_1 (AVX path): 127/amax, ties to even, s = fp16(d * sum).</summary>
    public static void QuantizeActivation(float* x, BlockQ8_1* y, int k)
    {
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float amax = 0;
            for (int j = 0; j < QK; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float d = amax / 127f;
            y[i].D = QuantMath.FloatToHalf(d);
            float id = amax != 0 ? 127f / amax : 0f;
            int sum = 0;
            for (int j = 0; j < QK; j++)
            {
                sbyte q = (sbyte)MathF.Round(x[j] * id);
                y[i].Qs[j] = q;
                sum += q;
            }
            y[i].S = QuantMath.FloatToHalf(d * sum);
        }
    }

    public static void Dequantize(BlockQ8_1* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++)
        {
            float d = QuantMath.HalfToFloat(x[i].D);
            for (int j = 0; j < QK; j++) y[i * QK + j] = x[i].Qs[j] * d;
        }
    }
}
