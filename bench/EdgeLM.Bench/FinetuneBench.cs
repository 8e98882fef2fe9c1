// LoRA fine-tuning speed and memory on a real-size quantized base: a RandomModel of a given shape and
// type (Qwen2.5-0.5B at Q4_0 by default), rank-8 adapters on q,k,v,o or on all seven projections,
// batches of B × T random tokens. Each configuration runs in its own child process ("finetune-one"),
// so its peak resident set (VmHWM) is its own; the table puts it beside the model file's size, with
// the target peak ≤ file + 25%. Timed steps follow one untimed warm-up step (JIT, first page faults).
// Frozen weights are mapped (every step touches the whole file, so it joins the resident set) or
// streamed (read tile by tile into one buffer, so the file stays in the page cache, which VmHWM does not count).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeLM.Kernels;
using EdgeLM.Training;
using EdgeLM.Training.Lora;

namespace EdgeLM.Bench;

/// <summary>One fine-tuning configuration: batch, context, threads, LoRA targets, checkpointing, logit rows per chunk.</summary>
public sealed record FinetuneCase(string Model, int Batch, int Ctx, int Threads, string Targets, bool Checkpoint, int LogitRows, int Steps, bool VocabTiled = false,
    bool StreamWeights = false);

/// <summary>CpuSecondsPerStep (this process's user + system time) is steadier than wall time on a shared machine.
/// GcHeapBytes and GcCommittedBytes are the managed heap after the last step (GC.GetGCMemoryInfo), AllocatedPerStep the
/// managed bytes a timed step allocated, ActivationBytes the activations' and their gradients' arrays, ReadPerStep the
/// bytes a timed step read from the file when streamed, ReadSecondsPerStep the wall time those reads took.</summary>
public sealed record FinetuneResult(FinetuneCase Case, double TokensPerSecond, double SecondsPerStep, double CpuSecondsPerStep,
    long PeakRssBytes, long RssAnonBytes, long RssFileBytes, long GcHeapBytes = 0, long GcCommittedBytes = 0, long AllocatedPerStep = 0,
    long ActivationBytes = 0, long ReadPerStep = 0, double ReadSecondsPerStep = 0);

public static class FinetuneBench
{
    /// <summary>The parent: every batch × targets × checkpoint setting in a child, then a Markdown table.</summary>
    public static int Run(ArgReader a, TextWriter output, TextWriter log)
    {
        string cache = a.String("--cache", Environment.GetEnvironmentVariable("EDGELM_BENCH_CACHE")
            ?? Path.Combine(Path.GetTempPath(), "edgelm-bench-models"))!;
        string shape = a.String("--shape", "qwen2.5-0.5b")!, type = a.String("--type", "Q4_0")!;
        var batches = a.List("--batches", "1,2,4").Select(I).ToArray();
        var targets = a.List("--targets", "q+k+v+o,all").Select(t => t == "all" ? "q,k,v,o,gate,up,down" : t.Replace('+', ',')).ToArray();
        var checkpoints = a.List("--checkpoint", "on").Select(c => c == "on").ToArray();
        var losses = a.List("--loss", "chunked").Select(l => l == "tiled").ToArray();
        var weights = a.List("--weights", "mapped").Select(w => w == "streamed").ToArray();
        int ctx = a.Int("--ctx", 256), threads = a.Int("--threads", 2), rows = a.Int("--logit-rows", 64), steps = a.Int("--steps", 2);
        a.RejectUnknown("finetune");
        string model = BenchModels.Ensure(cache, shape, type, log);
        long fileBytes = new FileInfo(model).Length;
        output.WriteLine($"{shape} {type}: file {fileBytes / 1e6:F0} MB, target peak ≤ {fileBytes * 1.25 / 1e6:F0} MB; T={ctx}, {threads} threads, LoRA r=8, logits {rows} rows at a time");
        output.WriteLine();
        output.WriteLine("| targets | B | checkpoint | loss | weights | tokens/s | s/step | CPU s/step | peak RSS MB | anon MB | file-backed MB | peak / file | GC heap / committed MB | alloc KB/step | activations MB | read MB/step | read s/step |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        int failed = 0;
        var cases = from t in targets
                    from b in batches
                    from c in checkpoints
                    from tiled in losses
                    from streamed in weights
                    select new FinetuneCase(model, b, ctx, threads, t, c, rows, steps, tiled, streamed);
        foreach (var fc in cases)
        {
            string head = $"| {fc.Targets} | {fc.Batch} | {(fc.Checkpoint ? "on" : "off")} | {(fc.VocabTiled ? "vocab tiles" : $"{rows} rows")} | " +
                $"{(fc.StreamWeights ? "streamed" : "mapped")} |";
            try
            {
                var r = RunChild(fc);
                output.WriteLine($"{head} {r.TokensPerSecond:F1} | {r.SecondsPerStep:F1} | {r.CpuSecondsPerStep:F1} | {r.PeakRssBytes / 1e6:F0} | " +
                    $"{r.RssAnonBytes / 1e6:F0} | {r.RssFileBytes / 1e6:F0} | {(double)r.PeakRssBytes / fileBytes:F2} | " +
                    $"{r.GcHeapBytes / 1e6:F0} / {r.GcCommittedBytes / 1e6:F0} | {r.AllocatedPerStep / 1e3:F1} | {r.ActivationBytes / 1e6:F0} | " +
                    $"{r.ReadPerStep / 1e6:F0} | {r.ReadSecondsPerStep:F2} |");
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                failed++;
                output.WriteLine($"{head} error: {e.Message} |");
            }
            output.Flush();
        }
        return failed == 0 ? 0 : 2;
    }

    /// <summary>The child: loads the base kept quantized, trains, and prints one RESULT line.</summary>
    public static FinetuneResult RunOne(FinetuneCase c)
    {
        var (m, frozen) = QuantizedProjections.Load(c.Model, c.Batch, c.Ctx,
            new ActivationOptions { Checkpoint = c.Checkpoint, LogitRows = c.LogitRows, VocabTiledLoss = c.VocabTiled }, c.StreamWeights);
        using var _ = frozen;
        var lora = new LoraLayers(m.Config, c.Batch, c.Ctx, new LoraOptions { Rank = 8, Alpha = 16, Targets = LinearTargets.Parse(c.Targets) });
        lora.Initialize(1);
        var rng = new Random(42);
        var tokens = new int[Math.Max(4096, 4 * c.Ctx)];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = EdgeLM.Models.RandomModel.FirstWordToken + rng.Next(m.Config.Model.VocabSize - EdgeLM.Models.RandomModel.FirstWordToken);
        using var pool = new WorkerPool(c.Threads);
        var tuner = new FineTuner(m, lora, new TokenSequence(tokens), new FineTuneOptions { Steps = c.Steps + 1, WarmupSteps = 0 }, pool);
        // As edgelm finetune does: loading's garbage goes back to the OS before the first step touches the activations.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        tuner.Step();
        long start = Stopwatch.GetTimestamp();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        long allocated = GC.GetTotalAllocatedBytes(precise: true), read = frozen.BytesRead;
        double readSeconds = frozen.ReadSeconds;
        for (int s = 0; s < c.Steps; s++) tuner.Step();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        read = frozen.BytesRead - read;
        readSeconds = frozen.ReadSeconds - readSeconds;
        var mem = MemoryUse.Current();
        var gc = GC.GetGCMemoryInfo();
        return new FinetuneResult(c, (double)c.Steps * c.Batch * c.Ctx / seconds, seconds / c.Steps, cpuSeconds / c.Steps, mem.PeakRssBytes, mem.RssAnonBytes,
            mem.RssFileBytes, gc.HeapSizeBytes, gc.TotalCommittedBytes, allocated / c.Steps, 4 * m.Acts.Floats, read / c.Steps, readSeconds / c.Steps);
    }

    public static FinetuneCase ParseCase(ArgReader a) => new(a.Required("--model"), a.Int("--batch", 1), a.Int("--ctx", 256), a.Int("--threads", 2),
        a.String("--targets", "q,k,v,o")!, a.Flag("--checkpoint"), a.Int("--logit-rows", 64), a.Int("--steps", 2), a.Flag("--vocab-tiled"),
        a.Flag("--stream-weights"));

    static FinetuneResult RunChild(FinetuneCase c)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(psi.FileName) == "dotnet") psi.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        string[] args = ["finetune-one", "--model", c.Model, "--batch", I(c.Batch), "--ctx", I(c.Ctx), "--threads", I(c.Threads),
            "--targets", c.Targets, "--logit-rows", I(c.LogitRows), "--steps", I(c.Steps)];
        foreach (var arg in args) psi.ArgumentList.Add(arg);
        if (c.Checkpoint) psi.ArgumentList.Add("--checkpoint");
        if (c.VocabTiled) psi.ArgumentList.Add("--vocab-tiled");
        if (c.StreamWeights) psi.ArgumentList.Add("--stream-weights");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the finetune child process");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(30)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"finetune-one B={c.Batch} took longer than 30 min");
        }
        p.WaitForExit();
        foreach (var line in stdout.Result.Split('\n'))
            if (p.ExitCode == 0 && line.StartsWith(ChildProcess.ResultPrefix, StringComparison.Ordinal))
                return JsonSerializer.Deserialize<FinetuneResult>(line[ChildProcess.ResultPrefix.Length..])!;
        string tail = string.Join(" | ", stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
        throw new InvalidOperationException($"finetune-one exited with {p.ExitCode}: {tail}");
    }

    public static string ToJson(FinetuneResult r) => JsonSerializer.Serialize(r);

    static int I(string s) => int.Parse(s, CultureInfo.InvariantCulture);
    static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
