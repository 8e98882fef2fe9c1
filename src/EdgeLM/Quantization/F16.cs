// F16 rows: IEEE binary16, converted with round-to-nearest-even (GGML_FP32_TO_FP16 / vcvtps2ph) and
// widened exactly. The scalar dot of two F16 rows accumulates the exact float products in float.
// Not the SIMD dot (F16.Simd.cs).
namespace EdgeLM.Quantization;

internal static unsafe class F16
{
    public static void Quantize(float* x, ushort* y, int n)
    {
        for (int i = 0; i < n; i++) y[i] = QuantMath.FloatToHalf(x[i]);
    }

    public static void Dequantize(ushort* x, float* y, int n)
    {
        for (int i = 0; i < n; i++) y[i] = QuantMath.HalfToFloat(x[i]);
    }

    public static float VecDot(ushort* x, ushort* y, int n)
    {
        double sum = 0; // ggml_vec_dot_f16's scalar path sums in ggml_float (double)
        for (int i = 0; i < n; i++) sum += QuantMath.HalfToFloat(x[i]) * QuantMath.HalfToFloat(y[i]);
        return (float)sum;
    }
}
