// The one comparison every SIMD-dot test makes: quantize a weight row and an activation row, run the
// scalar reference and one SIMD tier on the same bytes, and demand bit equality (integer paths that
// keep the reference's float order) or agreement within the reassociation tolerance.
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Tests.Quantization;

internal static unsafe class DotCheck
{
    /// <summary>Per-lane float accumulators reassociate at most n/32 additions of terms bounded by
    /// Σ|w·x|: a relative 1e-5 of that sum covers it with room, and a wrong lane or scale index is
    /// off by whole terms.</summary>
    public const double ReassociationTolerance = 1e-5;

    /// <summary>Types whose SIMD dots keep the scalar reference's float accumulation order.</summary>
    public static bool IsExact(GgmlType type) => type is GgmlType.Q4_K or GgmlType.Q6_K;

    public static void SimdMatchesScalar(GgmlType type, SimdLevel level, float[] w, float[] x, string label)
    {
        int n = w.Length;
        var vt = QuantKernels.VecDotType(type);
        var simd = QuantDots.Resolve(type, level);
        var scalar = QuantDots.Resolve(type, SimdLevel.Scalar);
        var wq = new byte[GgmlTypes.RowBytes(type, n)];
        var xq = new byte[GgmlTypes.RowBytes(vt, n)];
        QuantKernels.QuantizeReference(type, w, wq);
        QuantKernels.Quantize(vt, x, xq);
        float s, v;
        fixed (byte* pw = wq)
        fixed (byte* px = xq)
        {
            s = scalar(pw, px, n);
            v = simd(pw, px, n);
        }
        if (IsExact(type))
        {
            Assert.True(BitConverter.SingleToInt32Bits(s) == BitConverter.SingleToInt32Bits(v), $"{type} {level} n={n} {label}: scalar {s:R}, simd {v:R}");
            return;
        }
        double bound = ReassociationTolerance * SumAbs(w, x) + 1e-30;
        Assert.True(Math.Abs(s - v) <= bound, $"{type} {level} n={n} {label}: scalar {s:R}, simd {v:R}, bound {bound}");
    }

    static double SumAbs(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += Math.Abs((double)a[i] * b[i]);
        return s;
    }
}
