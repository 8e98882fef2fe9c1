// Q8_K: the activation type of the K-quants: 256 int8 with an fp32 scale and the sums of each 16
// (ggml block_q8_K, 292 bytes: d at 0, qs at 4, bsums at 260). Quantization as quantize_row_q8_K_ref,
// which is also what llama.cpp's x86 CPU backend runs (its quantize_row_q8_K is the reference there).
// No dot of its own.
using System.Runtime.InteropServices;

namespace EdgeLM.Quantization;

[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_K
{
    public const int QK = 256;
    public float D;
    public fixed sbyte Qs[QK];
    public fixed short Bsums[QK / 16];
}

internal static unsafe class Q8_K
{
    public const int QK = BlockQ8_K.QK;

    /// <summary>iscale = -127/max (max the signed value of largest magnitude), q = min(127, round(x *
    /// iscale)), d = 1/iscale. A zero block gets d = 0 and zero quants and sums (ggml leaves the sums
    /// unwritten there; they are never read because d is 0).</summary>
    public static void Quantize(float* x, BlockQ8_K* y, int k)
    {
        for (int i = 0; i < k / QK; i++, x += QK)
        {
            float max = 0, amax = 0;
            for (int j = 0; j < QK; j++)
            {
                float ax = MathF.Abs(x[j]);
                if (ax > amax) { amax = ax; max = x[j]; }
            }
            if (amax == 0)
            {
                new Span<byte>(&y[i], sizeof(BlockQ8_K)).Clear();
                continue;
            }
            float iscale = -127f / max;
            for (int j = 0; j < QK; j++) y[i].Qs[j] = (sbyte)Math.Min(127, QuantMath.NearestInt(iscale * x[j]));
            for (int j = 0; j < QK / 16; j++)
            {
                int sum = 0;
                for (int l = 0; l < 16; l++) sum += y[i].Qs[j * 16 + l];
                y[i].Bsums[j] = (short)sum;
            }
            y[i].D = 1 / iscale;
        }
    }

    public static void Dequantize(BlockQ8_K* x, float* y, int k)
    {
        for (int i = 0; i < k / QK; i++)
            for (int j = 0; j < QK; j++) y[i * QK + j] = x[i].D * x[i].Qs[j];
    }
}
