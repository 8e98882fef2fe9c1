// The quantizer Q4_K and Q5_K share (quantize_row_q4_K_ref / quantize_row_q5_K_ref): per group of 32
// an affine fit by make_qkx2_quants, 6-bit scales and mins under fp16 super-scales, then a re-rounding
// of every weight with the stored scales. Block layout: d at 0, dmin at 2, scales at 4; the caller
// packs the quants.
using System.Runtime.CompilerServices;
namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class KQuantAffine
{
    const int QK = 256;

    public static void Quantize(float* x, byte* y, int k, int nmax, float rmin, int nstep, delegate*<byte*, byte*, void> pack)
    {
        byte* L = stackalloc byte[QK];
        byte* Laux = stackalloc byte[32];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[QK / 32];
        float* scales = stackalloc float[QK / 32];
        int blockBytes = nmax == 15 ? sizeof(BlockQ4_K) : sizeof(BlockQ5_K);
        for (int i = 0; i < k / QK; i++, x += QK, y += blockBytes)
        {
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < QK / 32; j++)
            {
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) sumX2 += x[32 * j + l] * x[32 * j + l];
                float avX = MathF.Sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(x[32 * j + l]);
                scales[j] = KQuantSearch.MakeQkx2Quants(32, nmax, x + 32 * j, weights, L + 32 * j, out mins[j], Laux, rmin, 0.1f, nstep, false);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            byte* sc = y + 4;
            for (int j = 0; j < 12; j++) sc[j] = 0;
            float invScale = maxScale > 0 ? 63f / maxScale : 0f;
            float invMin = maxMin > 0 ? 63f / maxMin : 0f;
            for (int j = 0; j < QK / 32; j++)
            {
                // uint8_t ls = nearest_int(...) narrows to 8 bits before MIN(63, ls).
                int ls = Math.Min(63, (int)(byte)QuantMath.NearestInt(invScale * scales[j]));
                int lm = Math.Min(63, (int)(byte)QuantMath.NearestInt(invMin * mins[j]));
                KQuantSearch.PackScaleMinK4(sc, j, ls, lm);
            }
            ushort dh = QuantMath.FloatToHalf(maxScale / 63f), dminh = QuantMath.FloatToHalf(maxMin / 63f);
            ((ushort*)y)[0] = dh;
            ((ushort*)y)[1] = dminh;
            for (int j = 0; j < QK / 32; j++)
            {
                KQuantSearch.GetScaleMinK4(j, sc, out int s, out int m);
                float d = QuantMath.HalfToFloat(dh) * s;
                if (d == 0) continue;
                float dm = QuantMath.HalfToFloat(dminh) * m;
                for (int ii = 0; ii < 32; ii++)
                    L[32 * j + ii] = (byte)Math.Clamp(QuantMath.NearestInt((x[32 * j + ii] + dm) / d), 0, nmax);
            }
            pack(y, L);
        }
    }
}
