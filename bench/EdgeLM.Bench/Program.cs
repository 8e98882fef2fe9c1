// EdgeLM.Bench: end-to-end speed beside llama.cpp. Commands:
//   compare  [--shapes tiny,qwen2.5-0.5b,llama-3.2-1b] [--types F16,Q8_0,Q4_0,Q4_K_M] [--threads 1,2]
//            [--engines edgelm,llamacpp] [-p 512] [-n 128] [--repeats 5] [--max-batch 256] [--long]
//            [--long-context 2048] [--decode-prompt 16] [--cache DIR] [--json-out FILE] [--bandwidth-mib 1024] [--rounds 1] [--llamacpp-mmap 1]
//   run-one  --engine edgelm|llamacpp --model FILE [--threads N] [same timing options] [--json]
//   bandwidth [--threads 1,2] [--bandwidth-mib 1024]
//   train    [--threads 2] [--batch 4] [--seq 256] [--steps 3] [--models 10m,50m]
//   finetune [--shape qwen2.5-0.5b] [--type Q4_0] [--batches 1,2,4] [--ctx 256] [--threads 2]
//            [--targets q+k+v+o,all] [--checkpoint on,off] [--loss chunked,tiled] [--logit-rows 64] [--steps 2] [--cache DIR]
// Exit codes: 0 success, 1 bad usage or failure, 2 compare finished with some rows in error.
namespace EdgeLM.Bench;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 1 : 0;
        }
        try
        {
            var a = ArgReader.Parse(args[1..]);
            switch (args[0])
            {
                case "compare":
                    {
                        var o = CompareOptions.Parse(a);
                        a.RejectUnknown("compare");
                        return Compare.Run(o, "EdgeLM.Bench " + string.Join(' ', args), Console.Out, Console.Error);
                    }
                case "run-one":
                    {
                        var o = RunOneOptions.Parse(a);
                        bool json = a.Flag("--json");
                        a.RejectUnknown("run-one");
                        var r = o.Engine == "edgelm" ? EdgeLmRunner.Run(o) : LlamaCppRunner.Run(o);
                        Console.WriteLine(json ? ChildProcess.ResultPrefix + r.ToJson()
                            : $"{r.Engine}: load {r.LoadMs:F0} ms, prefill {r.PrefillTokensPerSecond:F1} tok/s, decode {r.DecodeTokensPerSecond:F2} tok/s, peak RSS {r.Memory.PeakRssBytes / 1e6:F0} MB");
                        return 0;
                    }
                case "bandwidth":
                    {
                        var threads = a.List("--threads", "1,2");
                        int mib = a.Int("--bandwidth-mib", 1024);
                        a.RejectUnknown("bandwidth");
                        foreach (var t in threads)
                            Console.WriteLine($"{t} thread(s): {Bandwidth.Measure(int.Parse(t, System.Globalization.CultureInfo.InvariantCulture), (long)mib << 20) / 1e9:F2} GB/s");
                        return 0;
                    }
                case "train":
                    {
                        int threads = a.Int("--threads", 2), batch = a.Int("--batch", 4), seq = a.Int("--seq", 256), steps = a.Int("--steps", 3);
                        var models = a.List("--models", "10m,50m");
                        a.RejectUnknown("train");
                        return TrainBench.Run(threads, batch, seq, steps, models, Console.Out);
                    }
                case "finetune":
                    return FinetuneBench.Run(a, Console.Out, Console.Error);
                case "finetune-one":
                    {
                        var c = FinetuneBench.ParseCase(a);
                        a.RejectUnknown("finetune-one");
                        Console.WriteLine(ChildProcess.ResultPrefix + FinetuneBench.ToJson(FinetuneBench.RunOne(c)));
                        return 0;
                    }
                default:
                    Console.Error.WriteLine($"unknown command '{args[0]}'\n{Usage}");
                    return 1;
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or IOException or FormatException)
        {
            Console.Error.WriteLine($"error: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    const string Usage = """
        EdgeLM.Bench compare [--shapes tiny,qwen2.5-0.5b,llama-3.2-1b] [--types F16,Q8_0,Q4_0,Q4_K_M] [--threads 1,2]
                             [--engines edgelm,llamacpp] [-p 512] [-n 128] [--repeats 5] [--max-batch 256] [--long]
                             [--long-context 2048] [--decode-prompt 16] [--cache DIR] [--json-out FILE] [--bandwidth-mib 1024] [--rounds 1] [--llamacpp-mmap 1]
        EdgeLM.Bench run-one --engine edgelm|llamacpp --model FILE [--threads N] [-p 512] [-n 128] [--repeats 5] [--max-batch 256] [--long] [--llamacpp-mmap 1] [--json]
        EdgeLM.Bench bandwidth [--threads 1,2] [--bandwidth-mib 1024]
        EdgeLM.Bench train [--threads 2] [--batch 4] [--seq 256] [--steps 3] [--models 10m,50m]
        EdgeLM.Bench finetune [--shape qwen2.5-0.5b] [--type Q4_0] [--batches 1,2,4] [--ctx 256] [--threads 2]
                              [--targets q+k+v+o,all] [--checkpoint on,off] [--loss chunked,tiled] [--logit-rows 64] [--steps 2] [--cache DIR]
        """;
}
