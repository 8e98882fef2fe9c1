// A whole training run (TrainingRun) on a tiny model: the run folder holds every output, the
// exported model.gguf gives the engine the trained transformer's logits, metrics.csv has one row
// per step with validation at the evaluation steps, and a run killed after a checkpoint (or
// cancelled) and resumed reproduces the uninterrupted run's losses bit for bit.
using EdgeLM.Formats;
using EdgeLM.Tests.Models;
using EdgeLM.Training;
using EdgeLM.Training.Run;

namespace EdgeLM.Tests.Training;

public class RunTests(RunFixture f) : IClassFixture<RunFixture>
{
    [Fact]
    public void A_tiny_run_writes_its_outputs_and_the_engine_runs_the_trained_model()
    {
        string dir = f.Config("reference").Out!;
        foreach (var name in new[] { TrainingRun.ModelName, TrainingRun.MetricsName, TrainingRun.ConfigName })
            Assert.True(File.Exists(Path.Combine(dir, name)), name);
        Assert.EndsWith(TrainingCheckpoint.FileName(RunFixture.Steps), TrainingCheckpoint.Newest(dir));
        Assert.Equal(2, Directory.GetFiles(TrainingCheckpoint.Folder(dir)).Length); // keep = 2
        Assert.Equal(f.Config("reference"), RunConfig.FromJson(RunConfig.ReadObject(Path.Combine(dir, TrainingRun.ConfigName)), "config.json"));

        // The engine on model.gguf against the trained parameters in a training forward of one window.
        var trained = f.Reference.Model;
        var single = new Transformer(trained.Config, 1, 32);
        trained.Parameters.Data.CopyTo(single.Parameters.Data, 0);
        var tokens = new int[32];
        tokens[0] = ByteDataset.Bos;
        ByteDataset.Encode("ROMEO:\nBut soft, what light through yonder window").AsSpan(0, 31).CopyTo(tokens.AsSpan(1));
        single.Forward(tokens, default, default);
        int V = trained.Config.Model.VocabSize;
        var training = Enumerable.Range(0, 32).Select(t => single.Logits.Slice(t * V, V).ToArray()).ToArray();
        var engine = EngineHarness.Logits(f.Reference.ModelPath, tokens);
        var (max, pos, idx, _) = EngineHarness.Compare(training, engine);
        Console.WriteLine($"engine vs trained transformer: max |Δlogit| {max:E2} at position {pos}, logit {idx}");
        Assert.True(max <= EngineAgreementTests.LogitTolerance, $"max |Δlogit| {max} at position {pos}, logit {idx}");
        Assert.Equal(ByteDataset.VocabSize, EdgeLM.Tokenizers.Tokenizer.Load(f.Reference.ModelPath).VocabSize);
    }

    [Fact]
    public void Metrics_have_one_row_per_step_and_validation_at_evaluation_steps()
    {
        var rows = f.ReferenceRows;
        Assert.Equal(Enumerable.Range(1, RunFixture.Steps), rows.Select(r => r.Step));
        var c = f.Config("reference");
        foreach (var r in rows)
        {
            Assert.Equal((long)r.Step * c.Batch * c.Ctx * c.GradAccum, r.Tokens);
            Assert.True(float.IsFinite(r.TrainLoss) && r.TrainLoss > 0);
            Assert.Equal(r.Step % c.EvalEvery == 0, !float.IsNaN(r.ValLoss));
            Assert.True(r.TokensPerSecond > 0 && r.LearningRate > 0);
        }
        // Byte-level: the first loss is about ln(259) = 5.56 (a uniform guess), and training lowers it.
        Assert.InRange(rows[0].TrainLoss, 5.3f, 5.8f);
        Assert.True(rows[^1].ValLoss < rows[3].ValLoss, $"validation loss {rows[3].ValLoss} -> {rows[^1].ValLoss}");
        Assert.Equal(f.Reference.ValidationLoss, rows[^1].ValLoss);
        string[] lines = File.ReadAllLines(Path.Combine(f.Config("reference").Out!, TrainingRun.MetricsName));
        // val_ppl is written with 6 significant digits: it must equal exp(val_loss) to that precision.
        double ppl = double.Parse(lines[4].Split(',')[4], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(ppl / Math.Exp(rows[3].ValLoss) - 1) < 1e-5, $"val_ppl {ppl} vs exp(val_loss) {Math.Exp(rows[3].ValLoss)}");
    }

    [Fact]
    public void A_run_killed_after_a_checkpoint_resumes_on_the_same_loss_curve()
    {
        var config = f.Config("killed");
        // "kill -9" two steps after the checkpoint of step 8: no final save, metrics rows 9 and 10 already written.
        var hooks = new RunHooks { AfterStep = s => { if (s == 10) throw new SimulatedCrash(); } };
        Assert.Throws<SimulatedCrash>(() => TrainingRun.Run(config, resume: false, hooks));
        Assert.EndsWith(TrainingCheckpoint.FileName(8), TrainingCheckpoint.Newest(config.Out!));
        Assert.Equal(10, RunFixture.ReadRows(Path.Combine(config.Out!, TrainingRun.MetricsName)).Length);

        var resumed = TrainingRun.Run(config, resume: true);
        AssertSameCurve(RunFixture.ReadRows(Path.Combine(config.Out!, TrainingRun.MetricsName)));
        Assert.Equal(f.Reference.Model.Parameters.Data, resumed.Model.Parameters.Data);
    }

    [Fact]
    public void Cancellation_saves_a_checkpoint_leaves_no_temp_file_and_resumes_exactly()
    {
        var config = f.Config("cancelled");
        using var cts = new CancellationTokenSource();
        var hooks = new RunHooks { AfterStep = s => { if (s == 5) cts.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => TrainingRun.Run(config, resume: false, hooks, cts.Token));
        Assert.EndsWith(TrainingCheckpoint.FileName(5), TrainingCheckpoint.Newest(config.Out!));
        Assert.Empty(Directory.GetFiles(config.Out!, "*tmp*", SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(config.Out!, TrainingRun.ModelName)));

        TrainingRun.Run(config, resume: true);
        AssertSameCurve(RunFixture.ReadRows(Path.Combine(config.Out!, TrainingRun.MetricsName)));
    }

    void AssertSameCurve(MetricsRow[] rows)
    {
        // Batches depend only on (seed, step) and the checkpoint holds every float the update reads, so the
        // resumed losses are the uninterrupted run's bit for bit (compared as round-trip strings for the message).
        Assert.Equal(f.ReferenceRows.Select(r => r.Step), rows.Select(r => r.Step));
        Assert.Equal(f.ReferenceRows.Select(r => RunFixture.Invariant(r.TrainLoss)), rows.Select(r => RunFixture.Invariant(r.TrainLoss)));
        Assert.Equal(f.ReferenceRows.Select(r => RunFixture.Invariant(r.ValLoss)), rows.Select(r => RunFixture.Invariant(r.ValLoss)));
    }

    [Fact]
    public void A_corrupt_or_mismatched_checkpoint_is_refused_by_name()
    {
        string dir = f.Config("reference").Out!;
        string good = TrainingCheckpoint.Newest(dir)!;
        var copy = f.Config("corrupt");
        string ckpt = Path.Combine(TrainingCheckpoint.Folder(copy.Out!), TrainingCheckpoint.FileName(RunFixture.Steps));
        Directory.CreateDirectory(Path.GetDirectoryName(ckpt)!);
        var bytes = File.ReadAllBytes(good);

        bytes[bytes.Length / 2] ^= 0x10; // one flipped bit among the parameters
        File.WriteAllBytes(ckpt, bytes);
        var e = Assert.Throws<InvalidModelFileException>(() => TrainingRun.Run(copy, resume: true));
        Assert.Contains(TrainingCheckpoint.FileName(RunFixture.Steps), e.Message);
        Assert.Contains("checksum", e.Message);

        File.WriteAllBytes(ckpt, bytes[..(bytes.Length - 100)]);
        e = Assert.Throws<InvalidModelFileException>(() => TrainingRun.Run(copy, resume: true));
        Assert.Contains("expected", e.Message);

        File.WriteAllBytes(ckpt, File.ReadAllBytes(good));
        e = Assert.Throws<InvalidModelFileException>(() => TrainingRun.Run(copy with { Ffn = 96 }, resume: true));
        Assert.Contains("'parameters'", e.Message);
        Assert.Contains(TrainingCheckpoint.FileName(RunFixture.Steps), e.Message);

        Assert.False(File.Exists(Path.Combine(copy.Out!, TrainingRun.ConfigName)), "a refused resume does not rewrite config.json");
        var fresh = Assert.Throws<ArgumentException>(() => TrainingRun.Run(copy, resume: false));
        Assert.Contains("--resume", fresh.Message);

        File.WriteAllBytes(ckpt, "EDGECKPT"u8.ToArray().Concat(new byte[40]).ToArray());
        e = Assert.Throws<InvalidModelFileException>(() => TrainingRun.Run(copy, resume: true));
        Assert.Contains("version 0", e.Message);
    }

    sealed class SimulatedCrash : Exception;
}
