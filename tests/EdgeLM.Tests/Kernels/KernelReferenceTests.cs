// Vector kernels against their plain scalar references over every length 0..257, so each vector
// width's full blocks and remainders are exercised.
using EdgeLM.Kernels;
using EdgeLM.Quantization;

namespace EdgeLM.Tests.Kernels;

public class KernelReferenceTests
{
    /// <summary>Float lanes sum in a different order than the scalar loop: a few ulps per element.</summary>
    const float RelativeTolerance = 2e-5f;

    static float[] Random(int n, int seed, float scale = 1)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (r.NextSingle() * 2 - 1) * scale;
        return a;
    }

    static void AssertClose(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            float tol = RelativeTolerance * Math.Max(1, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}: n={expected.Length} i={i}: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Fact]
    public void RmsNorm_matches_the_scalar_reference_for_every_length()
    {
        for (int n = 1; n <= 257; n++)
        {
            var x = Random(n, n, 3);
            var w = Random(n, n + 1000);
            var expected = new float[n];
            var actual = new float[n];
            Norm.RmsNormReference(expected, x, w, 1e-6f);
            Norm.RmsNorm(actual, x, w, 1e-6f);
            AssertClose(expected, actual, "rmsnorm");
        }
    }

    [Fact]
    public void SwiGlu_matches_the_scalar_reference_for_every_length_even_in_place()
    {
        for (int n = 0; n <= 257; n++)
        {
            var g = Random(n, n, 6);
            var u = Random(n, n + 1);
            var expected = new float[n];
            Activations.SwiGluReference(expected, g, u);
            var inPlace = (float[])g.Clone();
            Activations.SwiGlu(inPlace, inPlace, u);
            AssertClose(expected, inPlace, "swiglu");
        }
        var big = Random(1000, 5, 6);
        var up = Random(1000, 6);
        var e = new float[1000];
        Activations.SwiGluReference(e, big, up);
        Activations.SwiGlu(big, big, up);
        AssertClose(e, big, "swiglu across chunks");
    }

    [Fact]
    public void SwiGlu_gives_the_same_bits_at_every_vector_width_and_stays_within_4_ulps_of_double_precision()
    {
        // Wide gates (the exp's whole range and past it), every length's remainders, and the special values.
        var g = Random(1031, 77, 120).Concat([0f, -0f, 1e-30f, -1e-30f, 87.33f, -87.34f, 88f, -88f, 88.1f, -88.1f, 89f, -89f, 150f,
            -150f, float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon]).ToArray();
        var u = Random(g.Length, 78, 3);
        var scalar = new float[g.Length];
        Activations.SwiGlu(scalar, g, u, SimdLevel.Scalar);
        foreach (var width in new[] { SimdLevel.Vector128, SimdLevel.Vector256, SimdLevel.Vector512 })
            for (int n = 0; n <= 40; n++) // every remainder, then the whole array
                foreach (int len in new[] { n, g.Length })
                {
                    var y = new float[len];
                    Activations.SwiGlu(y, g.AsSpan(0, len), u.AsSpan(0, len), width);
                    Assert.Equal(scalar[..len], y);
                }
        for (int i = 0; i < g.Length; i++)
        {
            double x = g[i], expected = x / (1 + Math.Exp(-x)) * u[i];
            if (double.IsNaN(expected))
            {
                Assert.True(float.IsNaN(scalar[i]), $"g={g[i]}: expected NaN, got {scalar[i]}");
                continue;
            }
            if (Math.Abs(expected) < 1e-35) // g below -88: the exact value underflows to ~0
            {
                Assert.True(Math.Abs(scalar[i]) < 1e-35, $"g={g[i]}: expected ~0, got {scalar[i]}");
                continue;
            }
            double ulps = Math.Abs(scalar[i] - expected) / (Math.Abs(expected) * Math.Pow(2, -23));
            Assert.True(ulps <= 4 || float.IsInfinity(scalar[i]) && double.IsInfinity((float)expected), $"g={g[i]} u={u[i]}: {scalar[i]} vs {expected} ({ulps:F1} ulps)");
        }
    }

    [Fact]
    public void Exp_gives_the_same_bits_at_every_vector_width_and_stays_within_3_ulps_of_double_precision()
    {
        var x = Random(1031, 79, 100).Concat([0f, -0f, 1f, -1f, 1e-30f, -87.3f, -87.4f, -100f, -104f, 87.9f, 88f, 88.1f, 89f,
            float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon]).ToArray();
        var scalar = (float[])x.Clone();
        Activations.Exp(scalar, SimdLevel.Scalar);
        foreach (var width in new[] { SimdLevel.Vector128, SimdLevel.Vector256, SimdLevel.Vector512 })
            for (int n = 0; n <= 40; n++)
                foreach (int len in new[] { n, x.Length })
                {
                    var y = x[..len];
                    Activations.Exp(y, width);
                    Assert.Equal(scalar[..len], y);
                }
        for (int i = 0; i < x.Length; i++)
        {
            double expected = Math.Exp(x[i]);
            if (double.IsNaN(expected)) Assert.True(float.IsNaN(scalar[i]));
            else if (x[i] < -87.33654f) Assert.Equal(0f, scalar[i]); // below ln(2^-126), the smallest normal result: 0
            else if (x[i] > 88f) Assert.Equal(float.PositiveInfinity, scalar[i]);
            else
            {
                double ulps = Math.Abs(scalar[i] - expected) / (expected * Math.Pow(2, -23));
                Assert.True(ulps <= 3, $"x={x[i]}: {scalar[i]} vs {expected} ({ulps:F2} ulps)");
            }
        }
        Assert.Equal(1f, scalar[1031]); // e^0 exactly
    }

    [Fact]
    public void Softmax_sums_to_one_and_keeps_order()
    {
        for (int n = 1; n <= 257; n++)
        {
            var x = Random(n, n, 20);
            var p = (float[])x.Clone();
            Activations.Softmax(p);
            Assert.InRange(p.Sum(), 1 - 1e-4f, 1 + 1e-4f);
            double max = x.Max();
            double z = x.Sum(v => Math.Exp(v - max));
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(p[i] - Math.Exp(x[i] - max) / z) < 1e-6, $"n={n} i={i}");
        }
    }

    [Fact]
    public void Rope_rotates_pairs_or_halves_by_the_position_angle()
    {
        const int D = 8, pos = 5;
        const float theta = 10000f;
        var cos = new float[D / 2];
        var sin = new float[D / 2];
        Rope.Angles(cos, sin, pos, D, theta, default);
        var x = Random(D, 3);
        var pairs = (float[])x.Clone();
        var halves = (float[])x.Clone();
        Rope.Apply(pairs, 1, D, D, cos, sin, neox: false);
        Rope.Apply(halves, 1, D, D, cos, sin, neox: true);
        for (int i = 0; i < D / 2; i++)
        {
            double a = pos * Math.Pow(theta, -2.0 * i / D);
            Assert.Equal(x[2 * i] * Math.Cos(a) - x[2 * i + 1] * Math.Sin(a), pairs[2 * i], 4);
            Assert.Equal(x[2 * i] * Math.Sin(a) + x[2 * i + 1] * Math.Cos(a), pairs[2 * i + 1], 4);
            Assert.Equal(x[i] * Math.Cos(a) - x[i + D / 2] * Math.Sin(a), halves[i], 4);
            Assert.Equal(x[i] * Math.Sin(a) + x[i + D / 2] * Math.Cos(a), halves[i + D / 2], 4);
        }
    }
}
