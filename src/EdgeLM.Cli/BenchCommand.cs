// edgelm bench MODEL [-p 512] [-n 128] [--threads N] [--repeats R] [-ctk T -ctv T] [--no-repack] [--json]: prompt processing and
// decode speed of one model, medians of several repeats from a fresh context, with load time and
// peak resident memory. The side-by-side comparison with llama.cpp lives in bench/EdgeLM.Bench.
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using EdgeLM.Inference;
using EdgeLM.Kernels;

namespace EdgeLM.Cli;

public static class BenchCommand
{
    public static Command Create()
    {
        var model = Commands.ModelArgument();
        var prompt = new Option<int>("-p", "--prompt-tokens") { Description = "prompt length in tokens", DefaultValueFactory = _ => 512 };
        var gen = new Option<int>("-n", "--gen-tokens") { Description = "tokens to decode", DefaultValueFactory = _ => 128 };
        var threads = new Option<int?>("--threads", "-t") { Description = "worker threads (default: one per core)" };
        var repeats = new Option<int>("--repeats", "-r") { Description = "repeats; the median is reported", DefaultValueFactory = _ => 5 };
        var batch = new Option<int>("--batch", "-b") { Description = "tokens per forward pass in prompt processing", DefaultValueFactory = _ => 256 };
        var json = new Option<bool>("--json") { Description = "print JSON" };
        var noRepack = NoRepackFlag.Create();
        var cache = new CacheFlags();
        var command = new Command("bench", "Measure prompt processing and decode speed") { model, prompt, gen, threads, repeats, batch, json, noRepack };
        cache.AddTo(command);
        command.SetAction((r, ct) => Commands.Guard(() => Task.FromResult(Run(r.GetValue(model)!, r.GetValue(prompt), r.GetValue(gen),
            r.GetValue(repeats), r.GetValue(json), new LoadOptions { Repack = !r.GetValue(noRepack) },
            new SessionOptions { Threads = r.GetValue(threads), BatchSize = r.GetValue(batch), KeyCacheType = cache.Keys(r), ValueCacheType = cache.Values(r) }, ct))));
        return command;
    }

    static int Run(string path, int p, int n, int repeats, bool json, LoadOptions load, SessionOptions options, CancellationToken ct)
    {
        if (p < 1 || n < 1 || repeats < 1) throw new ArgumentException("-p, -n and --repeats must be at least 1");
        var clock = Stopwatch.StartNew();
        using var model = LanguageModel.Load(path, load);
        double loadSecs = clock.Elapsed.TotalSeconds;
        using var session = model.CreateSession(options with { ContextLength = p + n + 1 });
        var state = session.State;
        var rng = new Random(42);
        var promptIds = Enumerable.Range(0, p).Select(_ => rng.Next(model.Config.VocabSize)).ToArray();
        var step = new int[1];

        double Prefill()
        {
            session.Reset();
            var t = Stopwatch.StartNew();
            session.Feed(promptIds, ct);
            return p / t.Elapsed.TotalSeconds;
        }
        double Decode()
        {
            session.Reset();
            session.Feed(promptIds.AsSpan(0, 1), ct);
            var t = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                ct.ThrowIfCancellationRequested();
                step[0] = Sampler.ArgMax(state.Logits);
                model.Decoder.Forward(state, step);
            }
            return n / t.Elapsed.TotalSeconds;
        }

        Prefill(); // warm-up: JIT and first touch of the mapped weights
        Decode();
        var pp = new double[repeats];
        var tg = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            pp[i] = Prefill();
            tg[i] = Decode();
            Console.Error.Write($"\rrepeat {i + 1}/{repeats}: prefill {pp[i]:F1} tok/s, decode {tg[i]:F1} tok/s   ");
        }
        Console.Error.WriteLine();
        double peakMb = PeakRssMb();
        if (json)
        {
            Console.Out.WriteLine(new JsonObject
            {
                ["model"] = path,
                ["prefill_tok_s"] = Median(pp),
                ["decode_tok_s"] = Median(tg),
                ["load_s"] = loadSecs,
                ["peak_rss_mb"] = peakMb,
                ["repacked_mb"] = model.Decoder.Weights.RepackedBytes / 1e6,
                ["in_memory_mb"] = model.Decoder.Weights.InMemoryBytes / 1e6,
                ["huge_pages"] = model.Decoder.Weights.HugePages,
                ["repack_skipped"] = model.Decoder.Weights.RepackSkipped,
                ["threads"] = session.Threads,
                ["kernel"] = Cpu.InstructionSet,
                ["prompt_tokens"] = p,
                ["gen_tokens"] = n,
                ["repeats"] = repeats,
            }.ToJsonString());
        }
        else
        {
            Console.Out.WriteLine($"model        {path}");
            Console.Out.WriteLine($"prefill      {Median(pp):F1} tok/s ({p} tokens, median of {repeats})");
            Console.Out.WriteLine($"decode       {Median(tg):F1} tok/s ({n} tokens, median of {repeats})");
            Console.Out.WriteLine($"load         {loadSecs:F3} s");
            string skipped = model.Decoder.Weights.RepackSkipped ? ", not repacked: the copies would not fit in memory" : "";
            string huge = model.Decoder.Weights.HugePages ? ", on huge pages" : "";
            Console.Out.WriteLine($"peak RSS     {peakMb:F0} MB (repacked weights {model.Decoder.Weights.RepackedBytes / 1e6:F0} MB, "
                + $"read into memory {model.Decoder.Weights.InMemoryBytes / 1e6:F0} MB{huge}{skipped})");
            Console.Out.WriteLine($"threads      {session.Threads}, kernels {Cpu.InstructionSet}");
        }
        return 0;
    }

    static double Median(double[] x)
    {
        var s = x.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>VmHWM from /proc/self/status (Linux); elsewhere the process's peak working set.</summary>
    static double PeakRssMb()
    {
        const string Status = "/proc/self/status";
        if (File.Exists(Status))
        {
            foreach (var line in File.ReadLines(Status))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                var kb = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
                return long.Parse(kb, System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        return Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
    }
}
