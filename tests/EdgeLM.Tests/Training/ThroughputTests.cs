// Training speed: tokens/s and model-FLOPs utilisation of full steps at 2 threads against the
// measured F32 FMA peak. The ~1M-parameter model runs always (a few steps); the ~10M one when
// EDGELM_TRAIN_BENCH=1, since its steps take seconds each. The assertion is the sanity of the
// measurement: MFU above 1 would mean the FLOP count or the peak is wrong.
using EdgeLM.Kernels;
using EdgeLM.Training;

namespace EdgeLM.Tests.Training;

public class ThroughputTests
{
    [Fact]
    public void Tokens_per_second_and_MFU_of_1M_and_10M_models_at_2_threads()
    {
        using var pool = new WorkerPool(2);
        double peak = Throughput.PeakFlops(pool);
        Console.WriteLine($"measured F32 FMA peak at 2 threads: {peak / 1e9:F1} GFLOP/s (vector width {System.Numerics.Vector<float>.Count})");
        Measure("~1M", TransformerConfig.Create("llama", ByteDataset.VocabSize, 128, 5, 4, 2, 32, 384, 256, tied: true), 8, 64, 10, pool, peak);
        if (Environment.GetEnvironmentVariable("EDGELM_TRAIN_BENCH") == "1")
            Measure("~10M", TransformerConfig.Create("llama", ByteDataset.VocabSize, 320, 8, 5, 5, 64, 864, 256, tied: true), 4, 128, 3, pool, peak);
    }

    static void Measure(string label, TransformerConfig config, int B, int T, int steps, WorkerPool pool, double peak)
    {
        var m = new Transformer(config, B, T);
        m.Parameters.Initialize(1);
        double tps = Throughput.TokensPerSecond(m, steps, pool, warmupSteps: Math.Max(2, steps / 2));
        double mfu = Throughput.ModelFlopsUtilization(m.Parameters.Count, tps, peak);
        Console.WriteLine($"{label}: {m.Parameters.Count:N0} parameters, B={B} T={T}: {tps:F0} tokens/s, MFU {mfu:P1}");
        Assert.InRange(mfu, 1e-4, 1.0);
    }
}
