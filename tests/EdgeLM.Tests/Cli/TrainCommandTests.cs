// edgelm train: how flags, a --config file and a resumed run's config.json combine (in process),
// and the command end to end as a separate process: all outputs, a valid loss.png, a quantized
// model.gguf the engine runs, and a run killed with SIGKILL, then interrupted with SIGTERM (Ctrl+C's path; exit
// 130, a checkpoint, no temporary file), then resumed, that ends on the uninterrupted loss curve.
using System.Diagnostics;
using System.Text.Json;
using EdgeLM.Cli;
using EdgeLM.Tests.Support;
using EdgeLM.Training.Run;

namespace EdgeLM.Tests.Cli;

public class TrainCommandTests
{
    static RunConfig Parse(params string[] args)
    {
        var flags = new TrainFlags();
        var r = flags.Command().Parse(args);
        Assert.Empty(r.Errors);
        return flags.Read(r);
    }

    [Fact]
    public void Flags_override_the_config_file_which_overrides_the_defaults()
    {
        using var dir = new TempDir();
        string file = dir.File("run.json");
        File.WriteAllText(file, """{ "data": "a.txt", "out": "run", "layers": 3, "kv-heads": 1, "lr": 0.01, "tied": true, "type": "Q8_0" }""");
        var c = Parse("--config", file, "--layers", "4", "--no-tied", "--ctx", "256", "--val-fraction", "0.2");
        Assert.Equal(4, c.Layers);        // flag over file
        Assert.Equal(1, c.KvHeads);       // file
        Assert.Equal(0.01f, c.Lr);        // file
        Assert.False(c.Tied);             // --no-tied over "tied": true
        Assert.Equal(256, c.Ctx);
        Assert.Equal(0.2, c.ValFraction);
        Assert.Equal("Q8_0", c.Type);
        Assert.Equal(new RunConfig().Steps, c.Steps); // default
        Assert.Equal("a.txt", c.Data);

        var d = Parse("--data", "x.txt", "--out", "o", "--dim", "96", "--heads", "6", "--tied", "--tokenizer", "byte", "--steps", "5");
        Assert.Equal((96, 6, 16, 256, true, 5), (d.Dim, d.Heads, d.EffectiveHeadDim, d.EffectiveFfn, d.Tied, d.Steps));
        Assert.Throws<ArgumentException>(() => Parse("--tied", "--no-tied"));
    }

    [Fact]
    public void An_unknown_config_key_is_an_error_that_names_it_and_the_file()
    {
        using var dir = new TempDir();
        string file = dir.File("bad.json");
        File.WriteAllText(file, """{ "layer": 2 }""");
        var e = Assert.Throws<JsonException>(() => Parse("--config", file));
        Assert.Contains("layer", e.Message);
        Assert.Contains("bad.json", e.Message);
    }

    [Fact]
    public void Resume_starts_from_the_run_folders_config_and_flags_still_win()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File(TrainingRun.ConfigName), (new RunConfig { Data = "d.txt", Out = dir.Path, Dim = 48, Steps = 10 }).ToJson());
        var c = Parse("--resume", "--out", dir.Path, "--steps", "20");
        Assert.Equal((48, 20, "d.txt"), (c.Dim, c.Steps, c.Data));
        Assert.Throws<ArgumentException>(() => Parse("--resume"));
    }

    static string[] TinyRun(string data, string dir, int steps) =>
    [
        "train", "--data", data, "--out", dir, "--arch", "llama", "--layers", "1", "--dim", "32", "--heads", "4", "--kv-heads", "2",
        "--ffn", "64", "--ctx", "32", "--batch", "4", "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--lr", "0.005", "--warmup", "3", "--seed", "3", "--threads", "2", "--eval-every", "5", "--eval-batches", "2",
        "--save-every", "5", "--keep", "3",
    ];

    static string Corpus(TempDir dir)
    {
        string data = dir.File("data.txt");
        File.WriteAllBytes(data, File.ReadAllBytes(TestData.File("corpus", "en", "tinyshakespeare.txt"))[..24_000]);
        return data;
    }

    [Fact]
    public void Train_writes_a_run_folder_with_a_png_and_a_quantized_model_the_engine_runs()
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        var r = CliRunner.Run([.. TinyRun(Corpus(dir), run, 10), "--type", "Q8_0"]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.StartsWith("trained 10 steps: validation loss", r.StdOut);
        Assert.Contains("step 10/10", r.StdErr);
        foreach (var name in new[] { "model.gguf", "metrics.csv", "config.json", "loss.png" })
            Assert.True(File.Exists(Path.Combine(run, name)), name);
        // PNG: the 8-byte signature, then the IHDR chunk with the plot's width and height (big-endian).
        var png = File.ReadAllBytes(Path.Combine(run, "loss.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(900, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(520, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.True(png.Length > 5000, $"{png.Length} bytes");

        var info = CliRunner.Run("info", Path.Combine(run, "model.gguf"), "--json");
        using var doc = JsonDocument.Parse(info.StdOut);
        Assert.True(doc.RootElement.GetProperty("tensor_types").TryGetProperty("Q8_0", out _), info.StdOut);
        var gen = CliRunner.Run("run", Path.Combine(run, "model.gguf"), "-p", "ROMEO:", "-n", "8", "--temp", "0");
        Assert.True(gen.ExitCode == 0, gen.StdErr);
    }

    [Fact]
    public void A_run_killed_then_interrupted_then_resumed_ends_on_the_uninterrupted_curve()
    {
        using var dir = new TempDir();
        string data = Corpus(dir);
        string run = dir.File("run");
        const int Steps = 40;
        // SIGKILL as soon as the first checkpoint exists: no chance to save anything more.
        using (var p = Start(TinyRun(data, run, Steps)))
        {
            WaitFor(p, () => TrainingCheckpoint.Newest(run) is not null);
            p.Kill();
            p.WaitForExit();
        }
        string afterKill = TrainingCheckpoint.Newest(run)!;
        // SIGTERM once a newer checkpoint exists: the handler Ctrl+C uses saves one more and exits with 130.
        // (Not SIGINT itself: a test host started in the background of a non-interactive shell, as CI
        // may start it, passes SIGINT on as ignored, and the runtime keeps an inherited SIG_IGN.)
        using (var p = Start(["train", "--resume", "--out", run]))
        {
            WaitFor(p, () => string.CompareOrdinal(TrainingCheckpoint.Newest(run), afterKill) > 0);
            using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
            Assert.True(p.WaitForExit(60_000));
            Assert.Equal(130, p.ExitCode);
        }
        Assert.Empty(Directory.GetFiles(run, "*tmp*", SearchOption.AllDirectories));
        var done = CliRunner.Run("train", "--resume", "--out", run);
        Assert.True(done.ExitCode == 0, done.StdErr);

        var resumed = File.ReadAllLines(Path.Combine(run, "metrics.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.Equal(Enumerable.Range(1, Steps).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), resumed.Select(f => f[0]));
        // The same settings in process, uninterrupted: identical train and validation losses (columns 2 and 3).
        var config = RunConfig.FromJson(RunConfig.ReadObject(Path.Combine(run, "config.json")), "config.json") with { Out = dir.File("straight") };
        TrainingRun.Run(config, resume: false);
        var straight = File.ReadAllLines(Path.Combine(config.Out!, "metrics.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.Equal(straight.Select(f => (f[2], f[3])), resumed.Select(f => (f[2], f[3])));
    }

    static Process Start(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EdgeLM.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    static void WaitFor(Process p, Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.False(p.HasExited, "the run ended before the condition held");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "timed out waiting for a checkpoint");
            Thread.Sleep(10);
        }
    }
}
