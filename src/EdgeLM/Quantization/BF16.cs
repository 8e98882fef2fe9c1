// BF16 rows: the upper 16 bits of a float, rounded to nearest even with NaN kept quiet
// (GGML_FP32_TO_BF16), widened exactly. Scalar dot accumulates in double as ggml_vec_dot_bf16's scalar
// path does. Not the SIMD dot (BF16.Simd.cs).
namespace EdgeLM.Quantization;

internal static unsafe class BF16
{
    public static void Quantize(float* x, ushort* y, int n)
    {
        for (int i = 0; i < n; i++) y[i] = QuantMath.FloatToBf16(x[i]);
    }

    public static void Dequantize(ushort* x, float* y, int n)
    {
        for (int i = 0; i < n; i++) y[i] = QuantMath.Bf16ToFloat(x[i]);
    }

    public static float VecDot(ushort* x, ushort* y, int n)
    {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += QuantMath.Bf16ToFloat(x[i]) * QuantMath.Bf16ToFloat(y[i]);
        return (float)sum;
    }
}
