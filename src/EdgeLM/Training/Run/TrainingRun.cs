// One training run from a RunConfig to a run folder: config.json (the effective settings), the
// tokenizer (trained into tokenizer/ if asked), checkpoints/ (every SaveEvery steps, at the end and
// on cancellation; the newest Keep kept), metrics.csv, and model.gguf (F32, or quantized to Type
// through GgufConverter). Resume loads the newest checkpoint and continues on the same loss curve:
// batches are a pure function of (seed, step) and the checkpoint holds parameters and both AdamW
// moments. Not a CLI: progress and the loss plot are hooks the caller fills in.
using System.Diagnostics;
using EdgeLM.Formats;
using EdgeLM.Models;
using EdgeLM.Tensors;
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training.Run;

/// <summary>What the run reports after each step.</summary>
public readonly record struct RunProgress(int Step, int Steps, float TrainLoss, float ValLoss, double TokensPerSecond, double SecondsLeft);

/// <summary>Callbacks of a run; all optional.</summary>
public sealed record RunHooks
{
    public Action<RunProgress>? Progress { get; init; }
    /// <summary>After each evaluation and at the end, with every metrics row so far (to redraw a plot).</summary>
    public Action<IReadOnlyList<MetricsRow>>? Evaluated { get; init; }
    /// <summary>After step s (steps completed) and its periodic checkpoint; a test throws here to simulate a crash.</summary>
    public Action<int>? AfterStep { get; init; }
    public Action<string>? Log { get; init; }
}

public sealed record RunResult(Transformer Model, string ModelPath, int Steps, float ValidationLoss);

public static class TrainingRun
{
    public const string ConfigName = "config.json", MetricsName = "metrics.csv", ModelName = "model.gguf";

    /// <summary>Trains (or, with <paramref name="resume"/>, continues) the run <paramref name="config"/> describes.
    /// Cancellation saves a checkpoint of the steps completed, then throws OperationCanceledException.</summary>
    public static RunResult Run(RunConfig config, bool resume, RunHooks? hooks = null, CancellationToken cancel = default)
    {
        hooks ??= new RunHooks();
        config.Validate();
        if (!GgmlTypes.TryParse(config.Type, out var type) || type is GgmlType.Q8_1 or GgmlType.Q8_K)
            throw new ArgumentException($"unknown tensor type '{config.Type}' (one of {string.Join(", ", GgmlTypes.StorageTypeNames)})");
        string dir = config.Out!;
        string? checkpoint = TrainingCheckpoint.Newest(dir);
        if (resume && checkpoint is null) throw new FileNotFoundException($"{TrainingCheckpoint.Folder(dir)}: no checkpoint to resume from");
        // A new run in an old run's folder would mix the two runs' checkpoints and metrics.
        if (!resume && checkpoint is not null)
            throw new ArgumentException($"{dir} already holds checkpoints ({Path.GetFileName(checkpoint)}): continue it with --resume, or give a new --out");
        Directory.CreateDirectory(dir);

        List<string>? docs = null;
        bool structured = RunData.IsStructured(config.Data!);
        List<string> Documents() => docs ??= structured ? RunData.ReadRecordTexts(config.Data!) : RunData.ReadDocuments(config.Data!, cancel);
        var tokenizer = RunTokenizer.Create(config, dir, Documents, cancel);
        var (train, validation) = structured
            ? RunData.LoadStructured(config.Data!, tokenizer, config.ValFraction, config.Ctx, config.Seed, cancel)
            : RunData.Load(Documents(), tokenizer, config.ValFraction, config.Ctx, cancel);
        hooks.Log?.Invoke($"tokenizer {tokenizer.Description}; {train.Length} training and {validation.Length} validation tokens");

        var model = new Transformer(config.Model(tokenizer.VocabSize), config.Batch, config.Ctx);
        model.Parameters.Initialize(config.Seed);
        using var pool = new WorkerPool(config.Threads is > 0 ? config.Threads.Value : Environment.ProcessorCount);
        var trainer = new Trainer(model, train, config.Training(), pool);
        int start = 0;
        if (checkpoint is not null)
        {
            start = TrainingCheckpoint.Load(checkpoint, model, trainer.Optimizer);
            trainer.Restore(start);
            hooks.Log?.Invoke($"resumed from {checkpoint} at step {start}");
        }
        hooks.Log?.Invoke($"{model.Parameters.Count:N0} parameters");
        // Written once the checkpoint has been accepted, so a refused resume leaves the run's settings as they were.
        byte[] json = System.Text.Encoding.UTF8.GetBytes(config.ToJson());
        AtomicFile.Write(Path.Combine(dir, ConfigName), s => s.Write(json));
        using var metrics = MetricsLog.Open(Path.Combine(dir, MetricsName), start);
        float val = Loop(config, model, trainer, validation, metrics, pool, hooks, cancel);
        if (float.IsNaN(val)) val = Trainer.Evaluate(model, validation, config.EvalBatches, pool); // resumed a finished run

        TrainingCheckpoint.Save(dir, model, trainer.Optimizer, trainer.StepIndex, config, config.Keep);
        string modelPath = Path.Combine(dir, ModelName);
        Export(model, tokenizer, modelPath, type, cancel);
        hooks.Evaluated?.Invoke(metrics.Rows);
        return new RunResult(model, modelPath, trainer.StepIndex, val);
    }

    static float Loop(RunConfig config, Transformer model, Trainer trainer, TokenSequence validation, MetricsLog metrics,
        WorkerPool pool, RunHooks hooks, CancellationToken cancel)
    {
        long tokensPerStep = (long)config.Batch * config.Ctx * config.GradAccum;
        double elapsedBefore = metrics.Rows.Count > 0 ? metrics.Rows[^1].ElapsedSeconds : 0;
        int first = trainer.StepIndex;
        var clock = Stopwatch.StartNew();
        float lastVal = float.NaN;
        while (trainer.StepIndex < config.Steps)
        {
            if (cancel.IsCancellationRequested)
            {
                string path = TrainingCheckpoint.Save(config.Out!, model, trainer.Optimizer, trainer.StepIndex, config, config.Keep);
                hooks.Log?.Invoke($"saved {path}");
                cancel.ThrowIfCancellationRequested();
            }
            var st = trainer.Step();
            int done = st.Step + 1;
            float val = float.NaN;
            if (done % config.EvalEvery == 0 || done == config.Steps)
                lastVal = val = Trainer.Evaluate(model, validation, config.EvalBatches, pool);
            double secs = clock.Elapsed.TotalSeconds;
            double rate = (done - first) * tokensPerStep / Math.Max(secs, 1e-9);
            metrics.Append(new MetricsRow(done, done * tokensPerStep, st.Loss, val, st.LearningRate, st.GradNorm, rate, elapsedBefore + secs));
            if (!float.IsNaN(val)) hooks.Evaluated?.Invoke(metrics.Rows);
            if (done % config.SaveEvery == 0 && done < config.Steps)
                TrainingCheckpoint.Save(config.Out!, model, trainer.Optimizer, done, config, config.Keep);
            double left = (config.Steps - done) * (secs / (done - first));
            hooks.Progress?.Invoke(new RunProgress(done, config.Steps, st.Loss, lastVal, rate, left));
            hooks.AfterStep?.Invoke(done);
        }
        return lastVal;
    }

    /// <summary>Writes model.gguf: F32 straight from the parameters, other types through the engine's converter.</summary>
    static void Export(Transformer model, RunTokenizer tokenizer, string path, GgmlType type, CancellationToken cancel)
    {
        if (type == GgmlType.F32)
        {
            TransformerGguf.Save(model, path, tokenizer.WriteMetadata);
            return;
        }
        string f32 = path + ".f32.tmp";
        try
        {
            TransformerGguf.Save(model, f32, tokenizer.WriteMetadata);
            using var source = ModelSources.Open(f32);
            GgufConverter.Write(source, path, type, cancel: cancel);
        }
        finally
        {
            File.Delete(f32);
        }
    }
}
