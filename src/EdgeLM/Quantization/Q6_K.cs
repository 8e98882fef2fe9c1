// Q6_K: super-blocks of 256 weights in 16 groups of 16, 6-bit values (4 low bits in ql, 2 high bits
// in qh), int8 group scales under one fp16 scale, w = d * sc * (q - 32) (ggml block_q6_K, 210 bytes:
// ql at 0, qh at 128, scales at 192, d at 208). Reference quantization (quantize_row_q6_K_ref),
// dequantization, scalar dot against Q8_K.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ6_K
{
    public const int QK = 256;
    public fixed byte Ql[QK / 2];
    public fixed byte Qh[QK / 4];
    public fixed sbyte Scales[QK / 16];
    public ushort D;
}

[SkipLocalsInit]
internal static unsafe class Q6_K
{
    public const int QK = BlockQ6_K.QK;

    public static void QuantizeRef(float* x, BlockQ6_K* y, int k)
    {
        sbyte* L = stackalloc sbyte[QK];
        float* scales = stackalloc float[QK / 16];
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            ref BlockQ6_K b = ref y[i];
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < QK / 16; ib++)
            {
                float scale = KQuantSearch.MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib, null);
                scales[ib] = scale;
                if (MathF.Abs(scale) > maxAbsScale) { maxAbsScale = MathF.Abs(scale); maxScale = scale; }
            }
            if (maxAbsScale < KQuantSearch.GroupMaxEps)
            {
                fixed (BlockQ6_K* p = &b) new Span<byte>(p, sizeof(BlockQ6_K)).Clear();
                continue;
            }
            float iscale = -128f / maxScale;
            b.D = QuantMath.FloatToHalf(1 / iscale);
            for (int ib = 0; ib < QK / 16; ib++) b.Scales[ib] = (sbyte)Math.Min(127, QuantMath.NearestInt(iscale * scales[ib]));
            for (int j = 0; j < QK / 16; j++)
            {
                float d = QuantMath.HalfToFloat(b.D) * b.Scales[j];
                if (d == 0) continue;
                for (int ii = 0; ii < 16; ii++)
                    L[16 * j + ii] = (sbyte)(Math.Clamp(QuantMath.NearestInt(x[16 * j + ii] / d), -32, 31) + 32);
            }
            for (int j = 0; j < QK; j += 128)
                for (int l = 0; l < 32; l++)
                {
                    int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                    b.Ql[j / 2 + l] = (byte)(q1 | (q3 << 4));
                    b.Ql[j / 2 + l + 32] = (byte)(q2 | (q4 << 4));
                    b.Qh[j / 4 + l] = (byte)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
                }
        }
    }

    /// <summary>Signed 6-bit value of element e: half h = e/128, quarter r = (e%128)/32, lane l.</summary>
    public static int Quant(BlockQ6_K* b, int e)
    {
        int h = e / 128, r = (e % 128) / 32, l = e % 32;
        int lo = (b->Ql[64 * h + l + 32 * (r & 1)] >> (4 * (r >> 1))) & 0xF;
        int hi = (b->Qh[32 * h + l] >> (2 * r)) & 3;
        return (lo | (hi << 4)) - 32;
    }

    public static void Dequantize(BlockQ6_K* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++)
        {
            float d = QuantMath.HalfToFloat(x[i].D);
            for (int e = 0; e < QK; e++) *y++ = d * x[i].Scales[e / 16] * Quant(&x[i], e);
        }
    }

    public static float VecDot(BlockQ6_K* x, BlockQ8_K* y, int n)
    {
        float sumf = 0;
        for (int i = 0; i < n / QK; i++)
        {
            int isum = 0;
            for (int g = 0; g < 16; g++)
            {
                int sub = 0;
                for (int e = 16 * g; e < 16 * g + 16; e++) sub += Quant(&x[i], e) * y[i].Qs[e];
                isum += x[i].Scales[g] * sub;
            }
            sumf += QuantMath.HalfToFloat(x[i].D) * y[i].D * isum;
        }
        return sumf;
    }
}
