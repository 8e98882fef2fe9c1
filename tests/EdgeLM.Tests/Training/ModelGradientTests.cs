// The whole training model's backward pass against finite differences of its loss, for a 2-layer
// model of each architecture (llama tied and untied, qwen2 with Q/K/V biases, qwen3 with per-head q/k
// norms and HeadDim·Heads ≠ n_embd), on a few random coordinates of every parameter tensor.
using EdgeLM.Kernels;
using EdgeLM.Training;

namespace EdgeLM.Tests.Training;

public class ModelGradientTests
{
    const int CoordsPerTensor = 5;

    [Theory]
    [InlineData("llama", false, 4)]
    [InlineData("llama", true, 4)]
    [InlineData("qwen2", true, 4)]
    [InlineData("qwen3", false, 6)]
    public void Every_parameter_gradient_matches_finite_differences(string arch, bool tied, int headDim)
    {
        var config = TransformerConfig.Create(arch, vocab: 23, dim: 16, layers: 2, heads: 4, kvHeads: 2, headDim: headDim,
            ffn: 24, context: 64, tied: tied);
        int B = 2, T = 5;
        var m = new Transformer(config, B, T);
        var rng = new Random(11);
        FillRandom(m.Parameters, rng);
        var inputs = new int[B * T];
        var targets = new int[B * T];
        for (int i = 0; i < inputs.Length; i++) (inputs[i], targets[i]) = (rng.Next(23), rng.Next(23));
        bool[] mask = [true, true, false, true, true, true, false, true, true, true];
        using var pool = new WorkerPool(2);

        m.Forward(inputs, targets, mask, pool);
        m.ZeroGrad();
        m.Backward(pool);
        var grad = (float[])m.Parameters.Grad.Clone();
        double Loss() => m.Forward(inputs, targets, mask, pool);
        double worst = 0;
        foreach (var t in m.Parameters.Tensors)
        {
            // Embedding rows of tokens absent from the batch have no gradient: sample rows that occur.
            var idx = t == m.Parameters.TokenEmbd && !tied
                ? Enumerable.Range(0, CoordsPerTensor).Select(_ => t.Offset + inputs[rng.Next(inputs.Length)] * t.Cols + rng.Next(t.Cols)).ToArray()
                : GradCheck.Sample(t.Length, CoordsPerTensor, rng).Select(i => t.Offset + i).ToArray();
            var r = GradCheck.Check($"{arch}{(tied ? " tied" : "")} {t.Name}", m.Parameters.Data, grad, idx, Loss);
            worst = Math.Max(worst, r.MaxRelError);
        }
        Console.WriteLine($"gradcheck {arch} tied={tied}: worst max rel error over all tensors {worst:E2}");
    }

    /// <summary>Weights large enough that every gradient is well above the finite-difference floor.</summary>
    static void FillRandom(TransformerParameters p, Random rng)
    {
        foreach (var t in p.Tensors)
        {
            var d = t.Of(p.Data);
            float[] v = t.Name.EndsWith("norm.weight", StringComparison.Ordinal) ? GradCheck.Randn(rng, d.Length, 0.2f, 1f)
                : t.Name.EndsWith(".bias", StringComparison.Ordinal) ? GradCheck.Randn(rng, d.Length, 0.3f)
                : GradCheck.Randn(rng, d.Length, 1f / MathF.Sqrt(t.Cols));
            v.CopyTo(d);
        }
    }
}
