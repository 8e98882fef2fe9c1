// AdamW, the learning-rate schedule, clipping, gradient accumulation and determinism, against
// closed forms: Adam's first bias-corrected step is lr·sign(g) whatever the moments; decoupled decay
// shrinks θ by lr·λ·θ independently of the gradient; a double-precision transcription of the
// algorithm in Loshchilov & Hutter (Algorithm 2) for later steps.
using EdgeLM.Kernels;
using EdgeLM.Training;

namespace EdgeLM.Tests.Training;

public class OptimizerTests
{
    /// <summary>F32 update arithmetic against a double reference over 20 steps: a few ulps of θ ~ 1.</summary>
    const double AdamTolerance = 1e-5;

    [Fact]
    public void First_AdamW_step_moves_each_parameter_by_lr_times_the_sign_of_its_gradient_plus_decay()
    {
        var o = new AdamWOptions { WeightDecay = 0.5f, Eps = 1e-12f };
        float[] p = [1f, -2f, 0.5f, 3f];
        float[] g = [0.3f, -7f, 1e-3f, -0.01f];
        var before = (float[])p.Clone();
        AdamW.Update(p, g, new float[4], new float[4], lr: 0.1f, weightDecay: 0.5f, t: 1, o);
        for (int i = 0; i < 4; i++)
            Assert.Equal(before[i] - 0.1 * (Math.Sign(g[i]) + 0.5 * before[i]), p[i], 1e-5);
    }

    [Fact]
    public void AdamW_matches_a_double_precision_transcription_of_the_paper_over_20_steps()
    {
        var o = new AdamWOptions { Beta1 = 0.9f, Beta2 = 0.95f, Eps = 1e-8f, WeightDecay = 0.1f };
        var rng = new Random(3);
        int n = 37;
        var p = GradCheck.Randn(rng, n);
        var m = new float[n];
        var v = new float[n];
        var pd = p.Select(x => (double)x).ToArray();
        var md = new double[n];
        var vd = new double[n];
        for (int t = 1; t <= 20; t++)
        {
            var g = GradCheck.Randn(rng, n);
            double lr = 0.01 * t / 20;
            AdamW.Update(p, g, m, v, (float)lr, 0.1f, t, o);
            for (int i = 0; i < n; i++)
            {
                md[i] = 0.9 * md[i] + 0.1 * g[i];
                vd[i] = 0.95 * vd[i] + 0.05 * g[i] * (double)g[i];
                double mh = md[i] / (1 - Math.Pow(0.9, t)), vh = vd[i] / (1 - Math.Pow(0.95, t));
                pd[i] -= lr * (mh / (Math.Sqrt(vh) + 1e-8) + 0.1 * pd[i]);
            }
        }
        double max = 0;
        for (int i = 0; i < n; i++) max = Math.Max(max, Math.Abs(p[i] - pd[i]));
        Console.WriteLine($"AdamW vs double reference after 20 steps: max |Δθ| {max:E2}");
        Assert.True(max < AdamTolerance, $"max |Δθ| {max}");
    }

    [Fact]
    public void Schedule_warms_up_linearly_then_follows_a_cosine_to_the_floor()
    {
        var s = new LearningRateSchedule(1e-3f, 1e-4f, WarmupSteps: 10, TotalSteps: 111);
        Assert.Equal(1e-4f, s.At(0), 1e-9f);
        Assert.Equal(5e-4f, s.At(4), 1e-9f);
        Assert.Equal(1e-3f, s.At(10), 1e-9f);
        Assert.Equal(5.5e-4f, s.At(60), 1e-7f); // halfway through the decay: the mean of max and min
        Assert.Equal(1e-4f, s.At(110), 1e-9f);
        for (int i = 11; i < 111; i++) Assert.True(s.At(i) <= s.At(i - 1));
    }

    [Fact]
    public void Clipping_scales_to_the_maximum_global_norm_and_leaves_small_gradients_alone()
    {
        float[] g = [3f, 0f, -4f];
        Assert.Equal(5.0, Gradients.ClipByGlobalNorm(g, 1.0), 6);
        Assert.Equal([0.6f, 0f, -0.8f], g);
        Assert.Equal(1.0, Gradients.ClipByGlobalNorm(g, 2.0), 6);
        Assert.Equal([0.6f, 0f, -0.8f], g);
    }

    /// <summary>Accumulated gradients sum the same terms in another order: F32 rounding only.</summary>
    const float AccumulationTolerance = 1e-5f;

    [Fact]
    public void Two_accumulated_micro_batches_give_the_gradient_of_one_batch_of_both()
    {
        var config = TransformerConfig.Create("llama", ByteDataset.VocabSize, 32, 2, 4, 2, 8, 64, 64, tied: true);
        var rng = new Random(4);
        int T = 16;
        var inputs = Enumerable.Range(0, 2 * T).Select(_ => rng.Next(3, 259)).ToArray();
        var targets = Enumerable.Range(0, 2 * T).Select(_ => rng.Next(3, 259)).ToArray();
        using var pool = new WorkerPool(2);
        var big = new Transformer(config, 2, T);
        big.Parameters.Initialize(7);
        big.ZeroGrad();
        big.Forward(inputs, targets, default, pool);
        big.Backward(pool);
        var small = new Transformer(config, 1, T);
        small.Parameters.Initialize(7);
        small.ZeroGrad();
        for (int k = 0; k < 2; k++)
        {
            small.Forward(inputs.AsSpan(k * T, T), targets.AsSpan(k * T, T), default, pool);
            small.Backward(pool, lossScale: 0.5f);
        }
        float max = 0, scale = 0;
        for (int i = 0; i < big.Parameters.Count; i++)
        {
            max = Math.Max(max, Math.Abs(big.Parameters.Grad[i] - small.Parameters.Grad[i]));
            scale = Math.Max(scale, Math.Abs(big.Parameters.Grad[i]));
        }
        Console.WriteLine($"accumulation: max |Δgrad| {max:E2}, max |grad| {scale:E2}");
        Assert.True(max <= AccumulationTolerance * Math.Max(1, scale), $"max |Δgrad| {max}");
        Assert.True(scale > 1e-3f);
    }

    [Fact]
    public void Two_runs_with_the_same_seed_give_identical_losses()
    {
        var data = new ByteDataset(System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("to be or not to be, that is the question. ", 40))));
        float[] Run(int seed)
        {
            var config = TransformerConfig.Create("llama", ByteDataset.VocabSize, 32, 2, 4, 2, 8, 64, 64, tied: false);
            var m = new Transformer(config, 2, 16);
            m.Parameters.Initialize(seed);
            using var pool = new WorkerPool(2);
            var trainer = new Trainer(m, data.Train, new TrainingOptions { Steps = 8, WarmupSteps = 2, AccumulationSteps = 2, Seed = seed }, pool);
            return Enumerable.Range(0, 8).Select(_ => trainer.Step().Loss).ToArray();
        }
        var a = Run(1);
        var b = Run(1);
        var c = Run(2);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.True(a[^1] < a[0], $"loss went from {a[0]} to {a[^1]}");
    }
}
