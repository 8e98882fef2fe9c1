// Q5_1: blocks of 32 weights as 5-bit values with fp16 scale and minimum, w = d * q + m (ggml
// block_q5_1, 24 bytes: d at 0, m at 2, qh at 4, qs at 8). Reference quantization
// (quantize_row_q5_1_ref), dequantization, scalar dot against Q8_1.
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ5_1
{
    public const int QK = 32;
    public ushort D;
    public ushort M;
    public uint Qh;
    public fixed byte Qs[QK / 2];
}

internal static unsafe class Q5_1
{
    public const int QK = BlockQ5_1.QK;

    public static void QuantizeRef(float* x, BlockQ5_1* y, int k)
    {
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float min = float.MaxValue, max = -float.MaxValue;
            for (int j = 0; j < QK; j++)
            {
                if (x[j] < min) min = x[j];
                if (x[j] > max) max = x[j];
            }
            float d = (max - min) / 31;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = QuantMath.FloatToHalf(d);
            y[i].M = QuantMath.FloatToHalf(min);
            uint qh = 0;
            for (int j = 0; j < QK / 2; j++)
            {
                // ggml casts straight to uint8_t here (no MIN(31, ...)), keeping only the low 8 bits.
                uint xi0 = (byte)(int)((x[j] - min) * id + 0.5f);
                uint xi1 = (byte)(int)((x[QK / 2 + j] - min) * id + 0.5f);
                y[i].Qs[j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10u) >> 4) << j;
                qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
            }
            y[i].Qh = qh;
        }
    }

    public static void Dequantize(BlockQ5_1* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++, y += QK)
        {
            float d = QuantMath.HalfToFloat(x[i].D), m = QuantMath.HalfToFloat(x[i].M);
            uint qh = x[i].Qh;
            for (int j = 0; j < QK / 2; j++)
            {
                int xh0 = (int)((qh >> j) << 4) & 0x10;
                int xh1 = (int)(qh >> (j + 12)) & 0x10;
                y[j] = ((x[i].Qs[j] & 0x0F) | xh0) * d + m;
                y[j + QK / 2] = ((x[i].Qs[j] >> 4) | xh1) * d + m;
            }
        }
    }

    public static float VecDot(BlockQ5_1* x, BlockQ8_1* y, int n)
    {
        float sumf = 0;
        for (int ib = 0; ib < n / QK; ib++)
        {
            uint qh = x[ib].Qh;
            int sumi = 0;
            for (int j = 0; j < QK / 2; j++)
            {
                int xh0 = (int)((qh >> j) << 4) & 0x10;
                int xh1 = (int)(qh >> (j + 12)) & 0x10;
                sumi += ((x[ib].Qs[j] & 0x0F) | xh0) * y[ib].Qs[j];
                sumi += ((x[ib].Qs[j] >> 4) | xh1) * y[ib].Qs[j + QK / 2];
            }
            sumf += QuantMath.HalfToFloat(x[ib].D) * QuantMath.HalfToFloat(y[ib].D) * sumi
                + QuantMath.HalfToFloat(x[ib].M) * QuantMath.HalfToFloat(y[ib].S);
        }
        return sumf;
    }
}
