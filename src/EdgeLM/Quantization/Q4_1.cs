// Q4_1: blocks of 32 weights as 4-bit values with fp16 scale and minimum, w = d * q + m (ggml
// block_q4_1, 20 bytes: d at 0, m at 2, qs at 4). Reference quantization (quantize_row_q4_1_ref),
// dequantization, scalar dot against Q8_1.
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_1
{
    public const int QK = 32;
    public ushort D;
    public ushort M;
    public fixed byte Qs[QK / 2];
}

internal static unsafe class Q4_1
{
    public const int QK = BlockQ4_1.QK;

    public static void QuantizeRef(float* x, BlockQ4_1* y, int k)
    {
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float min = float.MaxValue, max = -float.MaxValue;
            for (int j = 0; j < QK; j++)
            {
                if (x[j] < min) min = x[j];
                if (x[j] > max) max = x[j];
            }
            float d = (max - min) / 15;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = QuantMath.FloatToHalf(d);
            y[i].M = QuantMath.FloatToHalf(min);
            for (int j = 0; j < QK / 2; j++)
            {
                int xi0 = Math.Min(15, (int)((x[j] - min) * id + 0.5f));
                int xi1 = Math.Min(15, (int)((x[QK / 2 + j] - min) * id + 0.5f));
                y[i].Qs[j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    public static void Dequantize(BlockQ4_1* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++, y += QK)
        {
            float d = QuantMath.HalfToFloat(x[i].D), m = QuantMath.HalfToFloat(x[i].M);
            for (int j = 0; j < QK / 2; j++)
            {
                y[j] = (x[i].Qs[j] & 0x0F) * d + m;
                y[j + QK / 2] = (x[i].Qs[j] >> 4) * d + m;
            }
        }
    }

    /// <summary>sumf += sumi * (dx * dy) + mx * sy, as ggml's generic vec_dot_q4_1_q8_1.</summary>
    public static float VecDot(BlockQ4_1* x, BlockQ8_1* y, int n)
    {
        float sumf = 0;
        for (int ib = 0; ib < n / QK; ib++)
        {
            int sumi = 0;
            for (int j = 0; j < QK / 2; j++)
            {
                sumi += (x[ib].Qs[j] & 0x0F) * y[ib].Qs[j];
                sumi += (x[ib].Qs[j] >> 4) * y[ib].Qs[j + QK / 2];
            }
            sumf += QuantMath.HalfToFloat(x[ib].D) * QuantMath.HalfToFloat(y[ib].D) * sumi
                + QuantMath.HalfToFloat(x[ib].M) * QuantMath.HalfToFloat(y[ib].S);
        }
        return sumf;
    }
}
