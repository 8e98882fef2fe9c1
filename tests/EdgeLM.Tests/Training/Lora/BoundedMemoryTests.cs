// The memory bounds of training change no number: the chunked, in-place cross-entropy (Losses and
// GradientInPlace over blocks of rows) equals the (N, V)-probabilities reference (Forward, Backward);
// and a model with checkpointed activations and logits in chunks gives the same loss and the same
// gradients as the plain model, for LoRA (frozen base) and for full training.
using EdgeLM.Kernels;
using EdgeLM.Training;
using EdgeLM.Training.Layers;
using EdgeLM.Training.Lora;

namespace EdgeLM.Tests.Training.Lora;

public class BoundedMemoryTests
{
    /// <summary>Exact: both compute softmax with the same kernel, and scale·p then −scale at the target in the
    /// same order; the reference's 0 + scale·p is scale·p.</summary>
    const float CrossEntropyTolerance = 0f;

    [Fact]
    public void Chunked_in_place_cross_entropy_equals_the_probabilities_reference()
    {
        const int N = 11, V = 37, Rows = 4;
        var rng = new Random(2);
        var logits = GradCheck.Randn(rng, N * V, 3f);
        var targets = new int[N];
        var mask = new bool[N];
        for (int n = 0; n < N; n++) (targets[n], mask[n]) = (rng.Next(V), n % 4 != 1);
        const float dloss = 1.7f;
        var probs = new float[N * V];
        var expectedLosses = new float[N];
        float expected = CrossEntropy.Forward(probs, expectedLosses, logits, targets, mask, N, V);
        var expectedGrad = new float[N * V];
        CrossEntropy.Backward(expectedGrad, probs, targets, mask, dloss, N, V);

        int count = CrossEntropy.Count(mask);
        var losses = new float[N];
        var grad = (float[])logits.Clone();
        double total = 0;
        for (int n0 = 0; n0 < N; n0 += Rows)
        {
            int R = Math.Min(Rows, N - n0);
            var block = grad.AsSpan(n0 * V, R * V);
            total += CrossEntropy.Losses(losses.AsSpan(n0, R), block, targets.AsSpan(n0, R), mask.AsSpan(n0, R), R, V);
            CrossEntropy.GradientInPlace(block, targets.AsSpan(n0, R), mask.AsSpan(n0, R), dloss / count, R, V);
        }
        Assert.Equal(expected, (float)(total / count));
        AssertClose("losses", expectedLosses, losses, CrossEntropyTolerance);
        AssertClose("dlogits", expectedGrad, grad, CrossEntropyTolerance);
    }

    /// <summary>Checkpointing recomputes each block with the same kernels on the same inputs, and a frozen
    /// head's input gradient is computed row by row, so LoRA gradients are identical bit for bit.</summary>
    const float LoraTolerance = 0f;

    [Theory]
    [InlineData("llama", true, 3)]
    [InlineData("qwen2", false, 4)]
    [InlineData("qwen3", true, 0)]
    public void Checkpointed_lora_backward_equals_the_plain_backward(string arch, bool checkpoint, int logitRows)
    {
        var config = TransformerConfig.Create(arch, vocab: 29, dim: 16, layers: 3, heads: 4, kvHeads: 2, headDim: 4,
            ffn: 24, context: 64, tied: arch != "qwen2");
        const int B = 2, T = 6;
        var plain = new Transformer(config, B, T);
        var bounded = new Transformer(config, B, T, new ActivationOptions { Checkpoint = checkpoint, LogitRows = logitRows });
        Assert.Equal(checkpoint, bounded.Acts.Checkpointed);
        var rng = new Random(7);
        plain.Parameters.Initialize(3);
        plain.Parameters.Data.CopyTo(bounded.Parameters.Data, 0);
        var options = new LoraOptions { Rank = 2, Alpha = 4 };
        var la = new LoraLayers(config, B, T, options);
        var lb = new LoraLayers(config, B, T, options);
        GradCheck.Randn(rng, la.Count, 0.3f).CopyTo(la.Data, 0);
        la.Data.CopyTo(lb.Data, 0);
        (plain.LinearHook, bounded.LinearHook) = (la, lb);
        var (inputs, targets, mask) = Batch(rng, B * T, 29);
        using var pool = new WorkerPool(2);
        float lossA = plain.Forward(inputs, targets, mask, pool), lossB = bounded.Forward(inputs, targets, mask, pool);
        plain.Backward(pool, 3f);
        bounded.Backward(pool, 3f);
        Assert.Equal(lossA, lossB);
        AssertClose($"{arch} LoRA gradients", la.Grad, lb.Grad, LoraTolerance);
        AssertClose($"{arch} norm gradients", plain.Parameters.Grad, bounded.Parameters.Grad, LoraTolerance);
    }

    [Fact]
    public void Checkpointed_gradients_do_not_grow_with_depth()
    {
        // Two more blocks add two saved inputs (N, C) and nothing else: gradients exist for one block only,
        // and one residual gradient serves every block input.
        const int B = 2, T = 6, C = 16;
        long Floats(int layers) => new TransformerActivations(TransformerConfig.Create("llama", vocab: 29, dim: C, layers: layers, heads: 4,
            kvHeads: 2, headDim: 4, ffn: 24, context: 64, tied: true), B, T, new ActivationOptions { Checkpoint = true, VocabTiledLoss = true }).Floats;
        Assert.Equal(2L * B * T * C, Floats(5) - Floats(3));
    }

    /// <summary>Full training: the trained head's weight gradient is summed chunk by chunk instead of over all
    /// rows at once, a different F32 summation order; 1e-5 relative is rounding, a wrong term is O(1).</summary>
    const float FullTolerance = 1e-5f;

    [Fact]
    public void Checkpointed_full_backward_equals_the_plain_backward()
    {
        var config = TransformerConfig.Create("llama", vocab: 31, dim: 16, layers: 2, heads: 4, kvHeads: 4, headDim: 4,
            ffn: 24, context: 64, tied: true);
        const int B = 2, T = 5;
        var plain = new Transformer(config, B, T);
        var bounded = new Transformer(config, B, T, new ActivationOptions { Checkpoint = true, LogitRows = 3 });
        plain.Parameters.Initialize(9);
        plain.Parameters.Data.CopyTo(bounded.Parameters.Data, 0);
        var (inputs, targets, mask) = Batch(new Random(1), B * T, 31);
        using var pool = new WorkerPool(2);
        Assert.Equal(plain.Forward(inputs, targets, mask, pool), bounded.Forward(inputs, targets, mask, pool));
        plain.Backward(pool);
        bounded.Backward(pool);
        float scale = Math.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(plain.Parameters.Grad));
        AssertClose("full gradients", plain.Parameters.Grad, bounded.Parameters.Grad, FullTolerance * scale);
        Assert.Throws<InvalidOperationException>(() => bounded.Logits.Length);
    }

    static (int[] Inputs, int[] Targets, bool[] Mask) Batch(Random rng, int n, int vocab)
    {
        var inputs = new int[n];
        var targets = new int[n];
        var mask = new bool[n];
        for (int i = 0; i < n; i++) (inputs[i], targets[i], mask[i]) = (rng.Next(vocab), rng.Next(vocab), i % 5 != 2);
        return (inputs, targets, mask);
    }

    static void AssertClose(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        var (max, at) = LoraFineTuneTests.MaxDiff(expected, actual);
        if (max > tolerance) Assert.Fail($"{what}: max |Δ| {max:E3} at [{at}] ({expected[at]} vs {actual[at]}), tolerance {tolerance:E1}");
    }
}
