// Q5_0: blocks of 32 weights as 5-bit values with one fp16 scale, w = d * (q - 16) (ggml block_q5_0,
// 22 bytes: d at 0, qh (32 high bits, little endian) at 2, qs (low nibbles) at 6). Reference
// quantization (quantize_row_q5_0_ref), dequantization, scalar dot against Q8_0.
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ5_0
{
    public const int QK = 32;
    public ushort D;
    public uint Qh;
    public fixed byte Qs[QK / 2];
}

internal static unsafe class Q5_0
{
    public const int QK = BlockQ5_0.QK;

    public static void QuantizeRef(float* x, BlockQ5_0* y, int k)
    {
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float amax = 0, max = 0;
            for (int j = 0; j < QK; j++)
            {
                if (amax < MathF.Abs(x[j])) { amax = MathF.Abs(x[j]); max = x[j]; }
            }
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = QuantMath.FloatToHalf(d);
            uint qh = 0;
            for (int j = 0; j < QK / 2; j++)
            {
                uint xi0 = (uint)Math.Min(31, (int)(x[j] * id + 16.5f));
                uint xi1 = (uint)Math.Min(31, (int)(x[QK / 2 + j] * id + 16.5f));
                y[i].Qs[j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10u) >> 4) << j;
                qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
            }
            y[i].Qh = qh;
        }
    }

    public static void Dequantize(BlockQ5_0* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++, y += QK)
        {
            float d = QuantMath.HalfToFloat(x[i].D);
            uint qh = x[i].Qh;
            for (int j = 0; j < QK / 2; j++)
            {
                int xh0 = (int)((qh >> j) << 4) & 0x10;
                int xh1 = (int)(qh >> (j + 12)) & 0x10;
                y[j] = (((x[i].Qs[j] & 0x0F) | xh0) - 16) * d;
                y[j + QK / 2] = (((x[i].Qs[j] >> 4) | xh1) - 16) * d;
            }
        }
    }

    public static float VecDot(BlockQ5_0* x, BlockQ8_0* y, int n)
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
                sumi += (((x[ib].Qs[j] & 0x0F) | xh0) - 16) * y[ib].Qs[j];
                sumi += (((x[ib].Qs[j] >> 4) | xh1) - 16) * y[ib].Qs[j + QK / 2];
            }
            sumf += sumi * (QuantMath.HalfToFloat(x[ib].D) * QuantMath.HalfToFloat(y[ib].D));
        }
        return sumf;
    }
}
