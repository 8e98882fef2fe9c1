// The "compare" command: for each shape × type, write (or reuse) the random model, then for each
// thread count run each engine in its own child process, and report both side by side with the
// memory bandwidth measured in the same run. A type the engine cannot write or run yet gives a row
// with the error instead of stopping the whole comparison. With --rounds R each engine runs R times
// (a fresh child each time), the engines alternating and the order flipping every round (E L, L E, ...),
// and the medians are over all R × repeats samples: on a shared machine whose memory bandwidth drifts
// by a third over minutes, both engines then see the same drift.
using System.Text.Json;

namespace EdgeLM.Bench;

public sealed record CompareOptions(
    string[] Shapes, string[] Types, int[] Threads, string[] Engines, string CacheDir, string? JsonOut,
    RunOneOptions Run, int BandwidthMiB, int Rounds = 1)
{
    public static CompareOptions Parse(ArgReader a)
    {
        string cache = a.String("--cache", Environment.GetEnvironmentVariable("EDGELM_BENCH_CACHE")
            ?? Path.Combine(Path.GetTempPath(), "edgelm-bench-models"))!;
        var threads = a.List("--threads", "1,2").Select(t => int.TryParse(t, out int v) && v > 0 ? v
            : throw new ArgumentException($"--threads takes positive integers, not '{t}'")).ToArray();
        var engines = a.List("--engines", "edgelm,llamacpp");
        foreach (var e in engines)
            if (e is not ("edgelm" or "llamacpp")) throw new ArgumentException($"unknown engine '{e}'");
        var run = new RunOneOptions("edgelm", "", 1,
            Prompt: a.Int("-p", 512), Decode: a.Int("-n", 128), DecodePrompt: a.Int("--decode-prompt", 16),
            Repeats: a.Int("--repeats", 5), MaxBatch: a.Int("--max-batch", 256), Long: a.Flag("--long"),
            LongContext: a.Int("--long-context", 2048), Seed: a.Int("--seed", 42),
            PeerMmap: RunOneOptions.ParseMmap(a.String("--llamacpp-mmap", "1")!));
        var o = new CompareOptions(a.List("--shapes", "tiny"), a.List("--types", string.Join(',', BenchModels.DefaultTypes)),
            threads, engines, cache, a.String("--json-out"), run, a.Int("--bandwidth-mib", 1024), a.Int("--rounds", 1));
        if (o.Rounds < 1) throw new ArgumentException($"--rounds takes a positive integer, not {o.Rounds}");
        foreach (var s in o.Shapes) BenchModels.Shape(s);
        return o;
    }
}

/// <summary>One row of the comparison: a model at a thread count, both engines' results or errors.</summary>
public sealed record CompareRow
{
    public required string Shape { get; init; }
    public required string Type { get; init; }
    public required int Threads { get; init; }
    public long FileBytes { get; init; }
    public long WeightBytesPerToken { get; init; }
    public double BandwidthBytesPerSecond { get; init; }
    public RunOneResult? EdgeLm { get; init; }
    public RunOneResult? LlamaCpp { get; init; }
    public string? EdgeLmError { get; init; }
    public string? LlamaCppError { get; init; }

    public double RooflineEdgeLm => EdgeLm is null ? double.NaN : Stats.RooflineFraction(EdgeLm.DecodeTokensPerSecond, BandwidthBytesPerSecond, WeightBytesPerToken);
    public double RooflineLlamaCpp => LlamaCpp is null ? double.NaN : Stats.RooflineFraction(LlamaCpp.DecodeTokensPerSecond, BandwidthBytesPerSecond, WeightBytesPerToken);
}

public sealed record CompareReport(string Cpu, string Date, string Command, string CacheDir,
    Dictionary<int, double> BandwidthBytesPerSecond, List<CompareRow> Rows);

public static class Compare
{
    public static int Run(CompareOptions o, string command, TextWriter output, TextWriter log)
    {
        var bandwidth = new Dictionary<int, double>();
        foreach (int t in o.Threads)
        {
            bandwidth[t] = Bandwidth.Measure(t, (long)o.BandwidthMiB << 20);
            log.WriteLine($"# read bandwidth, {t} thread(s): {bandwidth[t] / 1e9:F2} GB/s");
        }
        var report = new CompareReport(Report.CpuModel(), DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'"), command,
            Path.GetFullPath(o.CacheDir), bandwidth, []);
        foreach (var shape in o.Shapes)
            foreach (var type in o.Types)
                report.Rows.AddRange(RunModel(o, shape, type, bandwidth, log));

        output.Write(Report.Markdown(report));
        if (o.JsonOut is not null)
        {
            File.WriteAllText(o.JsonOut, JsonSerializer.Serialize(report, new JsonSerializerOptions(RunOneResult.Json) { WriteIndented = true }));
            log.WriteLine($"# wrote {Path.GetFullPath(o.JsonOut)}");
        }
        return report.Rows.Any(r => r.EdgeLmError is not null || r.LlamaCppError is not null) ? 2 : 0;
    }

    static IEnumerable<CompareRow> RunModel(CompareOptions o, string shape, string type, Dictionary<int, double> bandwidth, TextWriter log)
    {
        string path;
        try
        {
            path = BenchModels.Ensure(o.CacheDir, shape, type, log);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or IOException)
        {
            log.WriteLine($"# {shape} {type}: cannot write the model: {e.Message}");
            return o.Threads.Select(t => new CompareRow { Shape = shape, Type = type, Threads = t, EdgeLmError = e.Message, LlamaCppError = e.Message });
        }
        long fileBytes = new FileInfo(path).Length, perToken = BenchModels.BytesPerToken(path);
        var rows = new List<CompareRow>();
        foreach (int t in o.Threads)
        {
            var row = new CompareRow { Shape = shape, Type = type, Threads = t, FileBytes = fileBytes, WeightBytesPerToken = perToken, BandwidthBytesPerSecond = bandwidth[t] };
            var results = o.Engines.ToDictionary(e => e, _ => new List<RunOneResult>());
            var errors = new Dictionary<string, string>();
            for (int round = 0; round < o.Rounds; round++)
                foreach (var engine in round % 2 == 0 ? o.Engines : o.Engines.Reverse())
                {
                    if (errors.ContainsKey(engine)) continue;
                    log.WriteLine($"# {shape} {type} {t} thread(s): {engine}{(o.Rounds > 1 ? $", round {round + 1}/{o.Rounds}" : "")}");
                    try
                    {
                        var r = ChildProcess.RunOne(o.Run with { Engine = engine, Model = path, Threads = t });
                        log.WriteLine($"#   prefill {r.PrefillTokensPerSecond:F1} tok/s, decode {r.DecodeTokensPerSecond:F2} tok/s, peak RSS {r.Memory.PeakRssBytes / 1e6:F0} MB");
                        results[engine].Add(r);
                    }
                    catch (Exception e) when (e is InvalidOperationException or TimeoutException or FormatException or JsonException)
                    {
                        log.WriteLine($"#   failed: {e.Message}");
                        errors[engine] = e.Message;
                    }
                }
            foreach (var engine in o.Engines)
            {
                if (errors.TryGetValue(engine, out var error))
                    row = engine == "edgelm" ? row with { EdgeLmError = error } : row with { LlamaCppError = error };
                else
                {
                    var r = Merge(results[engine]);
                    row = engine == "edgelm" ? row with { EdgeLm = r } : row with { LlamaCpp = r };
                }
            }
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>One engine's rounds as one result: every sample pooled and the medians taken over them, the
    /// load time's median, the largest memory and allocation figures, the last round's tokens.</summary>
    public static RunOneResult Merge(IReadOnlyList<RunOneResult> rounds)
    {
        if (rounds.Count == 1) return rounds[0];
        var prefill = rounds.SelectMany(r => r.PrefillSamples).ToArray();
        var decode = rounds.SelectMany(r => r.DecodeSamples).ToArray();
        return rounds[^1] with
        {
            LoadMs = Stats.Median(rounds.Select(r => r.LoadMs).ToArray()),
            PrefillSamples = prefill,
            PrefillTokensPerSecond = Stats.Median(prefill),
            DecodeSamples = decode,
            DecodeTokensPerSecond = Stats.Median(decode),
            Memory = rounds.MaxBy(r => r.Memory.PeakRssBytes)!.Memory,
            DecodeAllocatedBytes = rounds.Max(r => r.DecodeAllocatedBytes),
            DecodeAllocatedPerRepeat = rounds.SelectMany(r => r.DecodeAllocatedPerRepeat).ToArray(),
        };
    }
}
