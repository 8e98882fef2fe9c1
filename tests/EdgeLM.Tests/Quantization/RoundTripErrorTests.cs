// Quantize-then-dequantize error and dot error per type on Gaussian data, against named thresholds.
// The thresholds sit 25% above the errors measured here for these fixed seeds (bit-identical to
// llama.cpp's quantizers, printed by the test), so a regression in a quantizer's search shows up here even without the oracle.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Quantization;

public class RoundTripErrorTests(ITestOutputHelper output)
{
    /// <summary>Relative RMS error ||x - deq(q(x))|| / ||x|| allowed per type, and the relative error
    /// of the quantized dot against the F32 dot (weights quantized, activations in the vec_dot type).</summary>
    public static TheoryData<GgmlType, double, double> Thresholds => new()
    {
        { GgmlType.F16, 0.000263, 0.000438 },
        { GgmlType.BF16, 0.00212, 0.0031 },
        { GgmlType.Q8_0, 0.00674, 0.0132 },
        { GgmlType.Q5_0, 0.0535, 0.0986 },
        { GgmlType.Q5_1, 0.0475, 0.0932 },
        { GgmlType.Q4_0, 0.107, 0.134 },
        { GgmlType.Q4_1, 0.0982, 0.195 },
        { GgmlType.Q6_K, 0.0221, 0.0821 },
        { GgmlType.Q5_K, 0.0457, 0.092 },
        { GgmlType.Q4_K, 0.0898, 0.198 },
        { GgmlType.Q3_K, 0.189, 0.266 },
        { GgmlType.Q2_K, 0.372, 0.719 },
    };

    [Theory]
    [MemberData(nameof(Thresholds))]
    public void Round_trip_and_dot_errors_are_within_the_type_threshold(GgmlType type, double maxRms, double maxDot)
    {
        const int n = 4096;
        float[] x = RandomData.Gaussian(n, 31);
        var q = new byte[GgmlTypes.RowBytes(type, n)];
        QuantKernels.QuantizeReference(type, x, q);
        var back = new float[n];
        QuantKernels.Dequantize(type, q, back);
        double err = 0, norm = 0;
        for (int i = 0; i < n; i++) { err += (x[i] - back[i]) * (double)(x[i] - back[i]); norm += x[i] * (double)x[i]; }
        double rms = Math.Sqrt(err / norm);

        // Worst dot error over 8 activation rows, relative to the RMS magnitude sqrt(n) of the F32 dot;
        // it includes the activation's own quantization to the vec_dot type.
        var vt = QuantKernels.VecDotType(type);
        var a = new byte[GgmlTypes.RowBytes(vt, n)];
        double dotErr = 0;
        for (int s = 0; s < 8; s++)
        {
            float[] act = RandomData.Gaussian(n, 50 + s);
            QuantKernels.Quantize(vt, act, a);
            double exact = 0;
            for (int i = 0; i < n; i++) exact += (double)x[i] * act[i];
            dotErr = Math.Max(dotErr, Math.Abs(QuantKernels.VecDot(type, q, a, n) - exact) / Math.Sqrt(n));
        }
        output.WriteLine($"{type}: relative RMS {rms:F5}, dot error {dotErr:F5}");
        Assert.True(rms <= maxRms, $"{type}: relative RMS error {rms:F5} above {maxRms}");
        Assert.True(dotErr <= maxDot, $"{type}: dot error {dotErr:F5} above {maxDot}");
    }
}
