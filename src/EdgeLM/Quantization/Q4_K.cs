// Q4_K: super-blocks of 256 weights in 8 groups of 32, 4-bit values, 6-bit group scales and mins
// under fp16 super-scales, w = d * sc * q - dmin * m (ggml block_q4_K, 144 bytes: d at 0, dmin at 2,
// scales at 4 (12 bytes, get_scale_min_k4), qs at 16: each 32 bytes hold groups 2k (low nibbles) and
// 2k+1 (high nibbles)). Reference quantization (quantize_row_q4_K_ref), dequantization, scalar dot.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_K
{
    public const int QK = 256;
    public ushort D;
    public ushort Dmin;
    public fixed byte Scales[12];
    public fixed byte Qs[QK / 2];
}

[SkipLocalsInit]
internal static unsafe class Q4_K
{
    public const int QK = BlockQ4_K.QK;

    public static void QuantizeRef(float* x, BlockQ4_K* y, int k) =>
        KQuantAffine.Quantize(x, (byte*)y, k, nmax: 15, rmin: -1f, nstep: 20, &Pack);

    static void Pack(byte* block, byte* L)
    {
        var b = (BlockQ4_K*)block;
        for (int j = 0; j < QK; j += 64)
            for (int l = 0; l < 32; l++) b->Qs[j / 2 + l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
    }

    public static void Dequantize(BlockQ4_K* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++)
        {
            float d = QuantMath.HalfToFloat(x[i].D), min = QuantMath.HalfToFloat(x[i].Dmin);
            for (int j = 0; j < QK / 64; j++)
            {
                KQuantSearch.GetScaleMinK4(2 * j, x[i].Scales, out int sc1, out int m1);
                KQuantSearch.GetScaleMinK4(2 * j + 1, x[i].Scales, out int sc2, out int m2);
                float d1 = d * sc1, dm1 = min * m1, d2 = d * sc2, dm2 = min * m2;
                byte* q = x[i].Qs + 32 * j;
                for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - dm1;
                for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - dm2;
            }
        }
    }

    public static float VecDot(BlockQ4_K* x, BlockQ8_K* y, int n)
    {
        float sumf = 0;
        for (int i = 0; i < n / QK; i++)
        {
            int isum = 0, summs = 0;
            for (int g = 0; g < 8; g++)
            {
                KQuantSearch.GetScaleMinK4(g, x[i].Scales, out int sc, out int m);
                summs += m * (y[i].Bsums[2 * g] + y[i].Bsums[2 * g + 1]);
                byte* q = x[i].Qs + 32 * (g / 2);
                int shift = 4 * (g % 2), sub = 0;
                for (int l = 0; l < 32; l++) sub += ((q[l] >> shift) & 0xF) * y[i].Qs[32 * g + l];
                isum += sc * sub;
            }
            sumf += QuantMath.HalfToFloat(x[i].D) * y[i].D * isum - QuantMath.HalfToFloat(x[i].Dmin) * y[i].D * summs;
        }
        return sumf;
    }
}
