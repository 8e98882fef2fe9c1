// Q5_K: as Q4_K with a fifth bit per weight in qh (ggml block_q5_K, 176 bytes: d at 0, dmin at 2,
// scales at 4, qh at 16 (bit 2k / 2k+1 of qh[l] is the high bit of lane l of group 2k / 2k+1), qs at
// 48). Reference quantization (quantize_row_q5_K_ref), dequantization, scalar dot against Q8_K.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ5_K
{
    public const int QK = 256;
    public ushort D;
    public ushort Dmin;
    public fixed byte Scales[12];
    public fixed byte Qh[QK / 8];
    public fixed byte Qs[QK / 2];
}

[SkipLocalsInit]
internal static unsafe class Q5_K
{
    public const int QK = BlockQ5_K.QK;

    public static void QuantizeRef(float* x, BlockQ5_K* y, int k) =>
        KQuantAffine.Quantize(x, (byte*)y, k, nmax: 31, rmin: -0.5f, nstep: 15, &Pack);

    static void Pack(byte* block, byte* L)
    {
        var b = (BlockQ5_K*)block;
        for (int j = 0; j < 32; j++) b->Qh[j] = 0;
        for (int g = 0; g < QK / 64; g++)
        {
            int m1 = 1 << (2 * g), m2 = 2 << (2 * g);
            for (int j = 0; j < 32; j++)
            {
                int l1 = L[64 * g + j], l2 = L[64 * g + j + 32];
                if (l1 > 15) { l1 -= 16; b->Qh[j] |= (byte)m1; }
                if (l2 > 15) { l2 -= 16; b->Qh[j] |= (byte)m2; }
                b->Qs[32 * g + j] = (byte)(l1 | (l2 << 4));
            }
        }
    }

    /// <summary>The 5-bit value of lane l in group g.</summary>
    static int Quant(BlockQ5_K* b, int g, int l) =>
        ((b->Qs[32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF) | (((b->Qh[l] >> g) & 1) << 4);

    public static void Dequantize(BlockQ5_K* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++)
        {
            float d = QuantMath.HalfToFloat(x[i].D), min = QuantMath.HalfToFloat(x[i].Dmin);
            for (int g = 0; g < 8; g++)
            {
                KQuantSearch.GetScaleMinK4(g, x[i].Scales, out int sc, out int m);
                float d1 = d * sc, m1 = min * m;
                for (int l = 0; l < 32; l++) *y++ = d1 * Quant(&x[i], g, l) - m1;
            }
        }
    }

    public static float VecDot(BlockQ5_K* x, BlockQ8_K* y, int n)
    {
        float sumf = 0;
        for (int i = 0; i < n / QK; i++)
        {
            int isum = 0, summs = 0;
            for (int g = 0; g < 8; g++)
            {
                KQuantSearch.GetScaleMinK4(g, x[i].Scales, out int sc, out int m);
                summs += m * (y[i].Bsums[2 * g] + y[i].Bsums[2 * g + 1]);
                int sub = 0;
                for (int l = 0; l < 32; l++) sub += Quant(&x[i], g, l) * y[i].Qs[32 * g + l];
                isum += sc * sub;
            }
            sumf += QuantMath.HalfToFloat(x[i].D) * y[i].D * isum - QuantMath.HalfToFloat(x[i].Dmin) * y[i].D * summs;
        }
        return sumf;
    }
}
