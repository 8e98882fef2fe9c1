// LoRA's backward pass against finite differences: the adapted linear alone (gradients of A, B and
// the input), and a whole 2-layer model with adapters on every projection (gradients of every A and
// B through attention, SwiGLU and the norms). Also: the frozen base gets no gradient, and the
// frozen input gradient equals Linear.Backward's.
using EdgeLM.Kernels;
using EdgeLM.Training;
using EdgeLM.Training.Layers;
using EdgeLM.Training.Lora;

namespace EdgeLM.Tests.Training.Lora;

public class LoraGradientTests
{
    const int CoordsPerTensor = 6;

    /// <summary>With the small adapter factors below, the mean loss's gradients are ~1e-3, at GradCheck's
    /// absolute floor; scaling the loss (and the backward's seed) by 50 lifts them to where the relative
    /// tolerance decides, without changing the relative error of either side.</summary>
    const float LossScale = 50f;

    [Fact]
    public void The_adapted_linear_gradients_match_finite_differences()
    {
        var config = TransformerConfig.Create("llama", vocab: 11, dim: 12, layers: 1, heads: 2, kvHeads: 2, headDim: 6,
            ffn: 20, context: 16, tied: true);
        int N = 5, C = 12, OC = 20;
        var lora = new LoraLayers(config, 1, N, new LoraOptions { Rank = 3, Alpha = 6, Targets = [LinearTarget.FfnUp] });
        var rng = new Random(3);
        GradCheck.Randn(rng, lora.Count, 0.5f).CopyTo(lora.Data, 0);
        var x = GradCheck.Randn(rng, N * C);
        var r = GradCheck.Randn(rng, N * OC);
        var y = new float[N * OC];
        double Loss()
        {
            Array.Clear(y);
            lora.Forward(0, LinearTarget.FfnUp, y, x, N, C, OC, null);
            return GradCheck.Project(y, r);
        }
        Loss();
        var dx = new float[N * C];
        lora.ZeroGrad();
        lora.Backward(0, LinearTarget.FfnUp, dx, r, x, N, C, OC, null);
        var grad = (float[])lora.Grad.Clone();
        foreach (var t in lora.Tensors)
            GradCheck.Check($"lora linear {t.Name}", lora.Data, grad, Enumerable.Range(t.Offset, t.Length), Loss);
        GradCheck.Check("lora linear input", x, dx, Enumerable.Range(0, x.Length), Loss);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen3")]
    public void A_two_layer_model_with_adapters_matches_finite_differences(string arch)
    {
        var config = TransformerConfig.Create(arch, vocab: 23, dim: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 4,
            ffn: 24, context: 64, tied: false);
        int B = 2, T = 5;
        var m = new Transformer(config, B, T);
        var rng = new Random(5);
        foreach (var t in m.Parameters.Tensors)
        {
            bool norm = t.Name.EndsWith("norm.weight", StringComparison.Ordinal);
            GradCheck.Randn(rng, t.Length, norm ? 0.2f : 1f / MathF.Sqrt(t.Cols), norm ? 1f : 0f).CopyTo(t.Of(m.Parameters.Data));
        }
        var lora = new LoraLayers(config, B, T, new LoraOptions { Rank = 2, Alpha = 3 });
        // B random too (it starts at zero in training), so every A gradient is non-zero. Small factors: a
        // step on one entry of A moves a whole column of scale·B·A, so large factors would make the
        // finite difference's O(h²) term exceed GradCheck's tolerance.
        foreach (var t in lora.Tensors) GradCheck.Randn(rng, t.Length, 0.15f).CopyTo(t.Of(lora.Data));
        m.LinearHook = lora;
        var inputs = new int[B * T];
        var targets = new int[B * T];
        for (int i = 0; i < inputs.Length; i++) (inputs[i], targets[i]) = (rng.Next(23), rng.Next(23));
        using var pool = new WorkerPool(2);
        m.Forward(inputs, targets, default, pool);
        m.ZeroGrad();
        lora.ZeroGrad();
        m.Backward(pool, LossScale);
        var grad = (float[])lora.Grad.Clone();
        double Loss() => LossScale * m.Forward(inputs, targets, default, pool);
        foreach (var t in lora.Tensors)
            GradCheck.Check($"{arch} {t.Name}", lora.Data, grad, GradCheck.Sample(t.Length, CoordsPerTensor, rng).Select(i => t.Offset + i), Loss);
        // The base is frozen: its matrices and the embedding receive nothing.
        foreach (var t in m.Parameters.Tensors)
            if (t.IsMatrix)
                Assert.True(t.Of(m.Parameters.Grad).IndexOfAnyExcept(0f) < 0, $"frozen {t.Name} got a gradient");
    }

    [Fact]
    public void The_frozen_input_gradient_equals_the_full_backward_input_gradient()
    {
        var rng = new Random(8);
        int N = 7, C = 13, OC = 9;
        var w = GradCheck.Randn(rng, OC * C);
        var dy = GradCheck.Randn(rng, N * OC);
        var x = GradCheck.Randn(rng, N * C);
        var expected = new float[N * C];
        Linear.BackwardReference(expected, new float[OC * C], default, dy, x, w, N, C, OC);
        var actual = new float[N * C];
        using var pool = new WorkerPool(2);
        FrozenLinear.BackwardInput(actual, dy, w, N, C, OC, pool);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= FrozenTolerance * (1 + Math.Abs(expected[i])), $"[{i}] {actual[i]} vs {expected[i]}");
    }

    /// <summary>Same products, summed in a different order by the blocked kernel: F32 rounding only.</summary>
    const float FrozenTolerance = 1e-5f;
}
