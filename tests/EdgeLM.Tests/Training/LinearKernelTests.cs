// The blocked, vectorised, parallel Linear against its scalar reference for every row length 0..257
// (each vector width's body and remainder) and output counts around the 4-row blocking.
using EdgeLM.Kernels;
using EdgeLM.Training.Layers;

namespace EdgeLM.Tests.Training;

public class LinearKernelTests
{
    /// <summary>Both sides sum C products of O(1) values in F32 in different orders: the difference grows
    /// like sqrt(C)·ε·|terms|; 1e-5·(1 + sqrt(C)) is several times the worst measured.</summary>
    static float Tolerance(int C) => 1e-5f * (1 + MathF.Sqrt(C));

    [Fact]
    public void Forward_and_backward_match_the_scalar_reference_for_every_length_to_257()
    {
        using var pool = new WorkerPool(2);
        var rng = new Random(9);
        float worst = 0;
        for (int C = 0; C <= 257; C++)
        {
            int N = 1 + C % 6, OC = 1 + C % 9;
            bool bias = C % 2 == 0;
            var x = GradCheck.Randn(rng, N * C);
            var w = GradCheck.Randn(rng, OC * C);
            var b = bias ? GradCheck.Randn(rng, OC) : [];
            var dy = GradCheck.Randn(rng, N * OC);
            var y1 = new float[N * OC];
            var y2 = new float[N * OC];
            Linear.Forward(y1, x, w, b, N, C, OC, C % 3 == 0 ? null : pool);
            Linear.ForwardReference(y2, x, w, b, N, C, OC);
            worst = Math.Max(worst, Check(y1, y2, Tolerance(C), $"forward C={C} N={N} OC={OC}"));
            // Backward accumulates: start both sides from the same non-zero gradients.
            var dx1 = GradCheck.Randn(rng, N * C);
            var dw1 = GradCheck.Randn(rng, OC * C);
            var db1 = bias ? GradCheck.Randn(rng, OC) : [];
            var (dx2, dw2, db2) = ((float[])dx1.Clone(), (float[])dw1.Clone(), (float[])db1.Clone());
            Linear.Backward(dx1, dw1, db1, dy, x, w, N, C, OC, pool);
            Linear.BackwardReference(dx2, dw2, db2, dy, x, w, N, C, OC);
            worst = Math.Max(worst, Check(dx1, dx2, Tolerance(OC), $"dinp C={C}"));
            worst = Math.Max(worst, Check(dw1, dw2, Tolerance(N), $"dweight C={C}"));
            worst = Math.Max(worst, Check(db1, db2, Tolerance(N), $"dbias C={C}"));
        }
        Console.WriteLine($"linear vs scalar reference, C = 0..257: worst |Δ| {worst:E2}");
    }

    static float Check(float[] actual, float[] expected, float tol, string what)
    {
        float max = 0;
        int at = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            float d = Math.Abs(actual[i] - expected[i]);
            if (d > max) (max, at) = (d, i);
        }
        if (max > tol) Assert.Fail($"{what}: max |Δ| {max} at {at}: {actual[at]} vs {expected[at]} (tolerance {tol})");
        return max;
    }
}
