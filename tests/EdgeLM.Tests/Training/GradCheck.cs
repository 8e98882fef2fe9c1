// Finite-difference gradient checks for the training layers and model: central differences of an
// F32 forward pass whose scalar loss is summed in double, compared with the analytic gradient.
using System.Text;

namespace EdgeLM.Tests.Training;

public static class GradCheck
{
    /// <summary>Finite-difference step for F32 forwards of O(1) values: large enough that F32 rounding
    /// (~1e-7 relative, amplified by 1/2h) stays ~1e-5, small enough that the O(h²) truncation error of
    /// central differences stays below ~1e-4 for these smooth functions.</summary>
    public const float Step = 1e-2f;

    /// <summary>|analytic − numeric| must be ≤ AbsTol + RelTol·max(|analytic|, |numeric|). RelTol 1e-2: the
    /// O(h²) truncation and F32 rounding above leave at most ~1e-3 relative on O(1) gradients; a wrong
    /// formula is off by far more. AbsTol 1e-3: near-zero gradients carry the same absolute noise.</summary>
    public const double RelTol = 1e-2, AbsTol = 1e-3;

    public sealed record Result(string Name, double MaxRelError, double MaxAbsError, int Checked);

    /// <summary>Compares analytic[i] with (loss(x+h) − loss(x−h)) / 2h for each index, perturbing x[i].
    /// Throws with the worst pair and the first mismatches when any exceeds the tolerance.</summary>
    public static Result Check(string name, float[] x, ReadOnlySpan<float> analytic, IEnumerable<int> indices, Func<double> loss)
    {
        double maxRel = 0, maxAbs = 0;
        int worst = -1, count = 0;
        var bad = new StringBuilder();
        int badCount = 0;
        foreach (int i in indices)
        {
            float orig = x[i];
            x[i] = orig + Step;
            double lp = loss();
            x[i] = orig - Step;
            double lm = loss();
            x[i] = orig;
            double numeric = (lp - lm) / (2 * Step);
            double a = analytic[i];
            double diff = Math.Abs(a - numeric);
            double mag = Math.Max(Math.Abs(a), Math.Abs(numeric));
            bool ok = diff <= AbsTol + RelTol * mag;
            // Relative error is reported where the gradient is not dominated by the absolute floor.
            double rel = diff / Math.Max(mag, 1e-12);
            if (mag > 10 * AbsTol && rel > maxRel) { maxRel = rel; worst = i; }
            maxAbs = Math.Max(maxAbs, diff);
            if (!ok && badCount++ < 5) bad.Append($"  [{i}] analytic {a:G6} numeric {numeric:G6}\n");
            count++;
        }
        var result = new Result(name, maxRel, maxAbs, count);
        Console.WriteLine($"gradcheck {name}: {count} coordinates, max rel error {maxRel:E2} (at {worst}), max abs error {maxAbs:E2}");
        if (badCount > 0)
            throw new Xunit.Sdk.XunitException($"{name}: {badCount} of {count} gradients mismatch, max abs error {maxAbs:G4}; first:\n{bad}");
        return result;
    }

    /// <summary>All indices when few, else a random sample of <paramref name="n"/>.</summary>
    public static int[] Sample(int length, int n, Random rng)
    {
        if (length <= n) return Enumerable.Range(0, length).ToArray();
        var s = new int[n];
        for (int i = 0; i < n; i++) s[i] = rng.Next(length);
        return s;
    }

    public static float[] Randn(Random rng, int n, float std = 1f, float mean = 0f)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = mean + std * MathF.Sqrt(-2f * MathF.Log(1f - rng.NextSingle())) * MathF.Cos(2f * MathF.PI * rng.NextSingle());
        return v;
    }

    /// <summary>Σ out·r in double: a scalar loss whose gradient with respect to out is r.</summary>
    public static double Project(ReadOnlySpan<float> output, ReadOnlySpan<float> r)
    {
        double s = 0;
        for (int i = 0; i < output.Length; i++) s += (double)output[i] * r[i];
        return s;
    }
}
