// The training loop's step: K micro-batches of B windows each (gradient accumulation, the loss of
// each scaled by 1/K so the step sees the mean), clipping by global norm, then AdamW at the
// scheduled learning rate. Windows are next-token pairs cut from a TokenSequence (its loss mask
// honoured); the windows of step s are a pure function of (seed, s, micro-batch) (BatchSampler),
// and every parallel kernel gives each output to one worker in a fixed order, so two runs with the
// same seed produce bit-identical losses, and so does a run restored from a checkpoint at step s.
// Not a CLI, not a checkpointer: those build on this (TrainingRun, TrainingCheckpoint).
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
    readonly TokenSequence _train;
    readonly WorkerPool? _pool;
    readonly int[] _inputs;
    readonly int[] _targets;
    readonly bool[] _mask;
    int _step;

    public Trainer(Transformer model, TokenSequence train, TrainingOptions options, WorkerPool? pool = null)
    {
        if (train.Length <= model.Acts.T) throw new ArgumentException($"{train.Length} training tokens do not fill one window of {model.Acts.T}");
        _model = model;
        _train = train;
        _pool = pool;
        Options = options;
        Optimizer = new AdamW(model.Parameters, options.Adam);
        Schedule = new LearningRateSchedule(options.MaxLearningRate, options.MinLearningRate, options.WarmupSteps, options.Steps);
        _inputs = new int[model.Acts.B * model.Acts.T];
        _targets = new int[_inputs.Length];
        _mask = new bool[_inputs.Length];
    }

    /// <summary>Trains on a byte stream as ByteDataset cuts it: BOS first, then the tokens.</summary>
    public Trainer(Transformer model, int[] trainTokens, TrainingOptions options, WorkerPool? pool = null)
        : this(model, ByteDataset.Sequence(trainTokens), options, pool)
    {
    }

    public TrainingOptions Options { get; }
    public AdamW Optimizer { get; }
    public LearningRateSchedule Schedule { get; }
    /// <summary>Optimizer steps taken so far (the index of the next step).</summary>
    public int StepIndex => _step;

    /// <summary>Continues at <paramref name="step"/> after the parameters and the optimizer moments were
    /// restored: the next Step draws that step's batches and learning rate.</summary>
    public void Restore(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        _step = step;
        Optimizer.Restore(step);
    }

    /// <summary>One optimizer step; returns the mean training loss of its micro-batches.</summary>
    public StepStats Step()
    {
        long start = Stopwatch.GetTimestamp();
        int K = Math.Max(1, Options.AccumulationSteps);
        int B = _model.Acts.B, T = _model.Acts.T;
        _model.ZeroGrad();
        double loss = 0;
        for (int k = 0; k < K; k++)
        {
            BatchSampler.Fill(_train, Options.Seed, _step, k, _inputs, _targets, _mask, B, T);
            loss += _model.Forward(_inputs, _targets, _mask, _pool);
            _model.Backward(_pool, lossScale: 1f / K);
        }
        double norm = Options.GradClip > 0
            ? Gradients.ClipByGlobalNorm(_model.Parameters.Grad, Options.GradClip)
            : Gradients.GlobalNorm(_model.Parameters.Grad);
        float lr = Schedule.At(_step);
        Optimizer.Step(lr);
        return new StepStats(_step++, (float)(loss / K), lr, norm, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>Mean loss over the counted targets of consecutive windows of <paramref name="tokens"/> (up to
    /// <paramref name="maxBatches"/> batches of B windows); positions the loss mask excludes do not count.</summary>
    public static float Evaluate(Transformer model, TokenSequence tokens, int maxBatches, WorkerPool? pool = null)
    {
        int B = model.Acts.B, T = model.Acts.T;
        var inputs = new int[B * T];
        var targets = new int[B * T];
        var mask = new bool[B * T];
        int windows = Math.Min(maxBatches * B, (tokens.Length - 1) / T) / B * B;
        if (windows == 0) throw new ArgumentException($"{tokens.Length} tokens do not fill a batch of {B}×{T}");
        double total = 0;
        long counted = 0;
        for (int w = 0; w < windows; w += B)
        {
            for (int b = 0; b < B; b++)
                tokens.Window((w + b) * T, inputs.AsSpan(b * T, T), targets.AsSpan(b * T, T), mask.AsSpan(b * T, T));
            int n = Count(mask);
            if (n == 0) continue;
            // Forward returns the mean over this batch's counted targets; weight it by their number.
            total += (double)model.Forward(inputs, targets, mask, pool) * n;
            counted += n;
        }
        if (counted == 0) throw new ArgumentException("no validation position counts toward the loss (the loss mask is all false)");
        return (float)(total / counted);
    }

    /// <summary>Evaluate over a byte stream, BOS first as ByteDataset cuts it.</summary>
    public static float Evaluate(Transformer model, int[] tokens, int maxBatches, WorkerPool? pool = null) =>
        Evaluate(model, ByteDataset.Sequence(tokens), maxBatches, pool);

    static int Count(ReadOnlySpan<bool> mask)
    {
        int n = 0;
        foreach (bool m in mask) if (m) n++;
        return n;
    }
}
