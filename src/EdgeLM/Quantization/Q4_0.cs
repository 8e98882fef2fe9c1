// Q4_0: blocks of 32 weights as 4-bit values with one fp16 scale, w = d * (q - 8) (ggml block_q4_0,
// 18 bytes: d at 0, qs at 2; low nibbles hold elements 0..15, high nibbles 16..31). Reference
// quantization (quantize_row_q4_0_ref), dequantization, scalar dot against Q8_0.
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_0
{
    public const int QK = 32;
    public ushort D;
    public fixed byte Qs[QK / 2];
}

internal static unsafe class Q4_0
{
    public const int QK = BlockQ4_0.QK;

    public static void QuantizeRef(float* x, BlockQ4_0* y, int k)
    {
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float amax = 0, max = 0;
            for (int j = 0; j < QK; j++)
            {
                if (amax < MathF.Abs(x[j])) { amax = MathF.Abs(x[j]); max = x[j]; }
            }
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = QuantMath.FloatToHalf(d);
            for (int j = 0; j < QK / 2; j++)
            {
                // (int8_t)(v + 8.5f) in C truncates toward zero, as the cast here does.
                int xi0 = Math.Min(15, (int)(x[j] * id + 8.5f));
                int xi1 = Math.Min(15, (int)(x[QK / 2 + j] * id + 8.5f));
                y[i].Qs[j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    public static void Dequantize(BlockQ4_0* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++, y += QK)
        {
            float d = QuantMath.HalfToFloat(x[i].D);
            for (int j = 0; j < QK / 2; j++)
            {
                y[j] = ((x[i].Qs[j] & 0x0F) - 8) * d;
                y[j + QK / 2] = ((x[i].Qs[j] >> 4) - 8) * d;
            }
        }
    }

    public static float VecDot(BlockQ4_0* x, BlockQ8_0* y, int n)
    {
        float sumf = 0;
        for (int ib = 0; ib < n / QK; ib++)
        {
            int sumi = 0;
            for (int j = 0; j < QK / 2; j++)
            {
                sumi += ((x[ib].Qs[j] & 0x0F) - 8) * y[ib].Qs[j];
                sumi += ((x[ib].Qs[j] >> 4) - 8) * y[ib].Qs[j + QK / 2];
            }
            sumf += sumi * (QuantMath.HalfToFloat(x[ib].D) * QuantMath.HalfToFloat(y[ib].D));
        }
        return sumf;
    }
}
