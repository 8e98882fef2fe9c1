// The training loop's step: K micro-batches of B windows each (gradient accumulation, the loss of
// each scaled by 1/K so the step sees the mean), clipping by global norm, then AdamW at the
// scheduled learning rate. Batches are drawn from a Random seeded once, and every parallel kernel
// gives each output to one worker in a fixed order, so two runs with the same seed produce
// bit-identical losses. Not a CLI, not a checkpointer: those build on this.
using System.Diagnostics;
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training;

public sealed record TrainingOptions
{
    public int Steps { get; init; } = 1000;
    public float MaxLearningRate { get; init; } = 1e-3f;
    /// <summary>The cosine decays to this (a tenth of the peak, as in Chinchilla-style schedules).</summary>
    public float MinLearningRate { get; init; } = 1e-4f;
    public int WarmupSteps { get; init; } = 20;
    /// <summary>Micro-batches whose gradients are summed into one update.</summary>
    public int AccumulationSteps { get; init; } = 1;
    /// <summary>Maximum global gradient norm (≤ 0: no clipping).</summary>
    public float GradClip { get; init; } = 1f;
    public AdamWOptions Adam { get; init; } = new();
    public int Seed { get; init; } = 1;
}

/// <summary>What one optimizer step did.</summary>
public readonly record struct StepStats(int Step, float Loss, float LearningRate, double GradNorm, double Seconds);

public sealed class Trainer
{
    readonly Transformer _model;
    readonly int[] _train;
    readonly WorkerPool? _pool;
    readonly Random _rng;
    readonly int[] _inputs;
    readonly int[] _targets;
    int _step;

    public Trainer(Transformer model, int[] trainTokens, TrainingOptions options, WorkerPool? pool = null)
    {
        if (trainTokens.Length <= model.Acts.T) throw new ArgumentException($"{trainTokens.Length} training tokens do not fill one window of {model.Acts.T}");
        _model = model;
        _train = trainTokens;
        _pool = pool;
        Options = options;
        _rng = new Random(options.Seed);
        Optimizer = new AdamW(model.Parameters, options.Adam);
        Schedule = new LearningRateSchedule(options.MaxLearningRate, options.MinLearningRate, options.WarmupSteps, options.Steps);
        _inputs = new int[model.Acts.B * model.Acts.T];
        _targets = new int[_inputs.Length];
    }

    public TrainingOptions Options { get; }
    public AdamW Optimizer { get; }
    public LearningRateSchedule Schedule { get; }

    /// <summary>One optimizer step; returns the mean training loss of its micro-batches.</summary>
    public StepStats Step()
    {
        long start = Stopwatch.GetTimestamp();
        int K = Math.Max(1, Options.AccumulationSteps);
        _model.ZeroGrad();
        double loss = 0;
        for (int k = 0; k < K; k++)
        {
            ByteDataset.Sample(_train, _inputs, _targets, _model.Acts.B, _model.Acts.T, _rng);
            loss += _model.Forward(_inputs, _targets, default, _pool);
            _model.Backward(_pool, lossScale: 1f / K);
        }
        double norm = Options.GradClip > 0
            ? Gradients.ClipByGlobalNorm(_model.Parameters.Grad, Options.GradClip)
            : Gradients.GlobalNorm(_model.Parameters.Grad);
        float lr = Schedule.At(_step);
        Optimizer.Step(lr);
        return new StepStats(_step++, (float)(loss / K), lr, norm, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>Mean loss over consecutive windows of <paramref name="tokens"/> (up to <paramref name="maxBatches"/>
    /// batches of B windows), every position counted.</summary>
    public static float Evaluate(Transformer model, int[] tokens, int maxBatches, WorkerPool? pool = null)
    {
        int B = model.Acts.B, T = model.Acts.T;
        var inputs = new int[B * T];
        var targets = new int[B * T];
        int windows = Math.Min(maxBatches * B, (tokens.Length - 1) / T) / B * B;
        if (windows == 0) throw new ArgumentException($"{tokens.Length} tokens do not fill a batch of {B}×{T}");
        double total = 0;
        for (int w = 0; w < windows; w += B)
        {
            for (int b = 0; b < B; b++)
                ByteDataset.Window(tokens, (w + b) * T, inputs.AsSpan(b * T, T), targets.AsSpan(b * T, T));
            total += model.Forward(inputs, targets, default, pool);
        }
        return (float)(total / (windows / B));
    }
}
