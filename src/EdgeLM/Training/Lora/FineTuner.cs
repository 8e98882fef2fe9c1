// The fine-tuning loop: B windows a step cut at random from a TokenSequence (a target counting where
// its loss mask says), AdamW at a warmup-then-cosine learning rate, gradients clipped by global norm.
// With LoraLayers, only the adapters train (the base is frozen and gets no gradient); without, every
// base parameter does (full fine-tuning). Batches come from a Random seeded once, so runs repeat
// exactly. Not a data reader (see TokenSequence's producers) and not a checkpointer.
using System.Diagnostics;
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training.Lora;

public sealed record FineTuneOptions
{
    public int Steps { get; init; } = 200;
    public float MaxLearningRate { get; init; } = 1e-3f;
    public float MinLearningRate { get; init; } = 1e-4f;
    public int WarmupSteps { get; init; } = 10;
    /// <summary>Maximum global gradient norm (≤ 0: no clipping).</summary>
    public float GradClip { get; init; } = 1f;
    /// <summary>PEFT trainers use no weight decay on adapters by default (transformers' TrainingArguments weight_decay = 0).</summary>
    public AdamWOptions Adam { get; init; } = new() { WeightDecay = 0f };
    public int Seed { get; init; } = 1;
    /// <summary>When ≥ 0, every window starts with this token (what the base saw first in training, as
    /// ByteDataset's windows do); when negative, windows are plain next-token pairs of the sequence.</summary>
    public int Bos { get; init; } = -1;
}

public sealed class FineTuner
{
    readonly Transformer _model;
    readonly LoraLayers? _lora;
    readonly AdamW? _full;
    readonly TokenSequence _train;
    readonly WorkerPool? _pool;
    readonly Random _rng;
    readonly int[] _inputs, _targets;
    readonly bool[] _mask;
    int _step;

    /// <summary>Fine-tunes <paramref name="lora"/>'s adapters on <paramref name="model"/> (attached as its hook
    /// here), or every parameter of <paramref name="model"/> when <paramref name="lora"/> is null.</summary>
    public FineTuner(Transformer model, LoraLayers? lora, TokenSequence train, FineTuneOptions options, WorkerPool? pool = null)
    {
        int T = model.Acts.T;
        if (train.Length <= T + 1) throw new ArgumentException($"{train.Length} training tokens do not fill one window of {T}");
        _model = model;
        _lora = lora;
        model.LinearHook = lora;
        if (lora is null) _full = new AdamW(model.Parameters, options.Adam);
        _train = train;
        _pool = pool;
        Options = options;
        _rng = new Random(options.Seed);
        Schedule = new LearningRateSchedule(options.MaxLearningRate, options.MinLearningRate, options.WarmupSteps, options.Steps);
        _inputs = new int[model.Acts.B * T];
        _targets = new int[_inputs.Length];
        _mask = new bool[_inputs.Length];
    }

    public FineTuneOptions Options { get; }
    public LearningRateSchedule Schedule { get; }

    /// <summary>One optimizer step on one batch; returns its loss.</summary>
    public StepStats Step()
    {
        long start = Stopwatch.GetTimestamp();
        Sample(_train, Options.Bos, _inputs, _targets, _mask, _model.Acts.B, _model.Acts.T, _rng);
        float loss = _model.Forward(_inputs, _targets, _mask, _pool);
        float lr = Schedule.At(_step);
        double norm;
        if (_lora is not null)
        {
            _lora.ZeroGrad();
            _model.Backward(_pool);
            norm = Clip(_lora.Grad);
            _lora.Step(lr, Options.Adam, _step + 1);
        }
        else
        {
            _model.ZeroGrad();
            _model.Backward(_pool);
            norm = Clip(_model.Parameters.Grad);
            _full!.Step(lr);
        }
        return new StepStats(_step++, loss, lr, norm, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    double Clip(Span<float> grad) =>
        Options.GradClip > 0 ? Gradients.ClipByGlobalNorm(grad, Options.GradClip) : Gradients.GlobalNorm(grad);

    /// <summary>Fills B windows of T at random offsets: with bos ≥ 0, inputs [bos, s_o .. s_(o+T-2)] and targets
    /// s_o .. s_(o+T-1); else inputs s_o .. s_(o+T-1) and targets one further. Mask is the targets' loss mask.</summary>
    public static void Sample(TokenSequence s, int bos, Span<int> inputs, Span<int> targets, Span<bool> mask, int B, int T, Random rng)
    {
        for (int b = 0; b < B; b++)
        {
            Span<int> i = inputs.Slice(b * T, T), t = targets.Slice(b * T, T);
            var m = mask.Slice(b * T, T);
            if (bos < 0)
            {
                s.Window(rng.Next(s.Length - T - 1), i, t, m);
                continue;
            }
            int o = rng.Next(s.Length - T);
            i[0] = bos;
            s.Tokens.AsSpan(o, T - 1).CopyTo(i[1..]);
            s.Tokens.AsSpan(o, T).CopyTo(t);
            if (s.LossMask is null) m.Fill(true);
            else s.LossMask.AsSpan(o, T).CopyTo(m);
        }
    }
}
