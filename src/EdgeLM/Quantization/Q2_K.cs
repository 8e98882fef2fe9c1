// Q2_K: super-blocks of 256 weights in 16 groups of 16, 2-bit values, 4-bit group scales and mins
// under fp16 super-scales, w = d * sc * q - dmin * m (ggml block_q2_K, 84 bytes: scales at 0 (low
// nibble scale, high nibble min), qs at 16, d at 80, dmin at 82). Reference quantization
// (quantize_row_q2_K_ref), dequantization, scalar dot against Q8_K.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ2_K
{
    public const int QK = 256;
    public fixed byte Scales[QK / 16];
    public fixed byte Qs[QK / 4];
    public ushort D;
    public ushort Dmin;
}

[SkipLocalsInit]
internal static unsafe class Q2_K
{
    public const int QK = BlockQ2_K.QK;

    public static void QuantizeRef(float* x, BlockQ2_K* y, int k)
    {
        byte* L = stackalloc byte[QK];
        byte* Laux = stackalloc byte[16];
        float* weights = stackalloc float[16];
        float* mins = stackalloc float[QK / 16];
        float* scales = stackalloc float[QK / 16];
        const float q4scale = 15f;
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < QK / 16; j++)
            {
                for (int l = 0; l < 16; l++) weights[l] = MathF.Abs(x[16 * j + l]);
                scales[j] = KQuantSearch.MakeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j, out mins[j], Laux, -0.5f, 0.1f, 15, true);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            ref BlockQ2_K b = ref y[i];
            if (maxScale > 0)
            {
                float iscale = q4scale / maxScale;
                for (int j = 0; j < QK / 16; j++) b.Scales[j] = (byte)QuantMath.NearestInt(iscale * scales[j]);
                b.D = QuantMath.FloatToHalf(maxScale / q4scale);
            }
            else
            {
                for (int j = 0; j < QK / 16; j++) b.Scales[j] = 0;
                b.D = QuantMath.FloatToHalf(0f);
            }
            if (maxMin > 0)
            {
                float iscale = q4scale / maxMin;
                for (int j = 0; j < QK / 16; j++) b.Scales[j] |= (byte)(QuantMath.NearestInt(iscale * mins[j]) << 4);
                b.Dmin = QuantMath.FloatToHalf(maxMin / q4scale);
            }
            else
            {
                b.Dmin = QuantMath.FloatToHalf(0f);
            }
            for (int j = 0; j < QK / 16; j++)
            {
                float d = QuantMath.HalfToFloat(b.D) * (b.Scales[j] & 0xF);
                if (d == 0) continue;
                float dm = QuantMath.HalfToFloat(b.Dmin) * (b.Scales[j] >> 4);
                for (int ii = 0; ii < 16; ii++)
                    L[16 * j + ii] = (byte)Math.Clamp(QuantMath.NearestInt((x[16 * j + ii] + dm) / d), 0, 3);
            }
            for (int j = 0; j < QK; j += 128)
                for (int l = 0; l < 32; l++)
                    b.Qs[j / 4 + l] = (byte)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }

    /// <summary>Element e of a super-block: 128-halves h, within them shift group j (2 bits each) and
    /// lane l of 32; group scale index 8h + 2j + l/16.</summary>
    public static void Dequantize(BlockQ2_K* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++)
        {
            float d = QuantMath.HalfToFloat(x[i].D), min = QuantMath.HalfToFloat(x[i].Dmin);
            for (int h = 0; h < 2; h++)
                for (int j = 0; j < 4; j++)
                    for (int l = 0; l < 32; l++)
                    {
                        int sc = x[i].Scales[8 * h + 2 * j + l / 16];
                        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                        *y++ = dl * ((x[i].Qs[32 * h + l] >> (2 * j)) & 3) - ml;
                    }
        }
    }

    /// <summary>sumf += dx*dy * sum(sc * q2 . q8) - dminx*dy * sum(m * bsums).</summary>
    public static float VecDot(BlockQ2_K* x, BlockQ8_K* y, int n)
    {
        float sumf = 0;
        for (int i = 0; i < n / QK; i++)
        {
            int isum = 0, summs = 0;
            for (int g = 0; g < 16; g++)
            {
                int sc = x[i].Scales[g];
                summs += y[i].Bsums[g] * (sc >> 4);
                int h = g / 8, j = (g % 8) / 2, l0 = (g % 2) * 16, sub = 0;
                for (int l = l0; l < l0 + 16; l++)
                    sub += ((x[i].Qs[32 * h + l] >> (2 * j)) & 3) * y[i].Qs[128 * h + 32 * j + l];
                isum += (sc & 0xF) * sub;
            }
            sumf += y[i].D * QuantMath.HalfToFloat(x[i].D) * isum - y[i].D * QuantMath.HalfToFloat(x[i].Dmin) * summs;
        }
        return sumf;
    }
}
