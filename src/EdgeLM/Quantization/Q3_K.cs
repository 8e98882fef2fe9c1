// Q3_K: super-blocks of 256 weights in 16 groups of 16, 3-bit values (2 low bits in qs, the high bit
// in hmask), 6-bit signed group scales under one fp16 scale, w = d * (sc - 32) * (q - 4) (ggml
// block_q3_K, 110 bytes: hmask at 0, qs at 32, scales at 96, d at 108). Reference quantization
// (quantize_row_q3_K_ref), dequantization, scalar dot against Q8_K.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ3_K
{
    public const int QK = 256;
    public fixed byte Hmask[QK / 8];
    public fixed byte Qs[QK / 4];
    public fixed byte Scales[12];
    public ushort D;
}

[SkipLocalsInit]
internal static unsafe class Q3_K
{
    public const int QK = BlockQ3_K.QK;

    public static void QuantizeRef(float* x, BlockQ3_K* y, int k)
    {
        sbyte* L = stackalloc sbyte[QK];
        float* scales = stackalloc float[QK / 16];
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            ref BlockQ3_K b = ref y[i];
            float maxScale = 0, amax = 0;
            for (int j = 0; j < QK / 16; j++)
            {
                scales[j] = KQuantSearch.MakeQ3Quants(16, 4, x + 16 * j, L + 16 * j);
                float scale = MathF.Abs(scales[j]);
                if (scale > amax) { amax = scale; maxScale = scales[j]; }
            }
            for (int j = 0; j < 12; j++) b.Scales[j] = 0;
            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int j = 0; j < QK / 16; j++)
                {
                    // int8_t l = nearest_int(...) in C: the int is narrowed to 8 bits before clamping.
                    int l = (sbyte)QuantMath.NearestInt(iscale * scales[j]);
                    l = Math.Clamp(l, -32, 31) + 32;
                    if (j < 8) b.Scales[j] = (byte)(l & 0xF);
                    else b.Scales[j - 8] |= (byte)((l & 0xF) << 4);
                    l >>= 4;
                    b.Scales[j % 4 + 8] |= (byte)(l << (2 * (j / 4)));
                }
                b.D = QuantMath.FloatToHalf(1 / iscale);
            }
            else
            {
                b.D = QuantMath.FloatToHalf(0f);
            }
            fixed (byte* s = b.Scales)
            {
                for (int j = 0; j < QK / 16; j++)
                {
                    float d = QuantMath.HalfToFloat(b.D) * (Scale(s, j) - 32);
                    if (d == 0) continue;
                    for (int ii = 0; ii < 16; ii++)
                        L[16 * j + ii] = (sbyte)(Math.Clamp(QuantMath.NearestInt(x[16 * j + ii] / d), -4, 3) + 4);
                }
            }
            for (int j = 0; j < QK / 8; j++) b.Hmask[j] = 0;
            // The high bit of the first 32 quants goes to bit 0 of hmask[0..31], the next 32 to bit 1, ...
            for (int j = 0; j < QK; j++)
            {
                if (L[j] > 3)
                {
                    b.Hmask[j % 32] |= (byte)(1 << (j / 32));
                    L[j] -= 4;
                }
            }
            for (int j = 0; j < QK; j += 128)
                for (int l = 0; l < 32; l++)
                    b.Qs[j / 4 + l] = (byte)((byte)L[j + l] | ((byte)L[j + l + 32] << 2) | ((byte)L[j + l + 64] << 4) | ((byte)L[j + l + 96] << 6));
        }
    }

    /// <summary>The j-th 6-bit scale (0..63, bias 32): low nibble from bytes 0..7, top 2 bits from 8..11.</summary>
    public static int Scale(byte* s, int j)
    {
        int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
        return lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
    }

    /// <summary>Signed 3-bit value of element e (0..255): 2 bits from qs, minus 4 unless the hmask bit is set.</summary>
    public static int Quant(BlockQ3_K* b, int e)
    {
        int h = e / 128, j = (e % 128) / 32, l = e % 32;
        int q = (b->Qs[32 * h + l] >> (2 * j)) & 3;
        return q - ((b->Hmask[l] & (1 << (4 * h + j))) != 0 ? 0 : 4);
    }

    public static void Dequantize(BlockQ3_K* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++)
        {
            float dAll = QuantMath.HalfToFloat(x[i].D);
            byte* s = x[i].Scales;
            for (int e = 0; e < QK; e++)
                *y++ = dAll * (Scale(s, e / 16) - 32) * Quant(&x[i], e);
        }
    }

    public static float VecDot(BlockQ3_K* x, BlockQ8_K* y, int n)
    {
        float sumf = 0;
        for (int i = 0; i < n / QK; i++)
        {
            int isum = 0;
            for (int g = 0; g < 16; g++)
            {
                int sub = 0;
                for (int e = 16 * g; e < 16 * g + 16; e++) sub += Quant(&x[i], e) * y[i].Qs[e];
                isum += (Scale(x[i].Scales, g) - 32) * sub;
            }
            sumf += QuantMath.HalfToFloat(x[i].D) * y[i].D * isum;
        }
        return sumf;
    }
}
