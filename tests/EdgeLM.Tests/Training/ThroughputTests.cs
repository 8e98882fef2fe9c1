// What the training-speed figures are made of, without timing anything: the parameter count that MFU
// multiplies (checked against the llama parameter formula written out by hand) and the MFU arithmetic.
// The measurements themselves (tokens/s, FMA peak, MFU of the ~10M and ~50M models) are timings on a
// shared machine and live in the benchmark: `EdgeLM.Bench train` (docs/PERFORMANCE.md).
using EdgeLM.Kernels;
using EdgeLM.Training;

namespace EdgeLM.Tests.Training;

public class ThroughputTests
{
    [Fact]
    public void MFU_counts_six_FLOPs_per_parameter_per_token_of_the_llama_parameter_formula()
    {
        // The benchmark's ~10M model: byte vocabulary, width 320, 8 layers of 5 heads of 64, FFN 864, tied head.
        var config = TransformerConfig.Create("llama", ByteDataset.VocabSize, 320, 8, 5, 5, 64, 864, 256, tied: true);
        var parameters = new TransformerParameters(config);
        const long C = 320, F = 864, L = 8, Q = 5 * 64, KV = 5 * 64;
        // token embedding (also the head) + per layer: 2 norms, q k v o, gate up down + final norm
        long expected = ByteDataset.VocabSize * C + L * (2 * C + C * Q + 2 * C * KV + Q * C + 3 * C * F) + C;
        Assert.Equal(expected, parameters.Count);
        // 1,000 tokens/s against a 1 TFLOP/s peak: 6 · 10,000,640 · 1,000 / 1e12 = 6.000384 %.
        Assert.Equal(0.06000384, Throughput.ModelFlopsUtilization(parameters.Count, 1000, 1e12), 10);
    }

    [Fact]
    public void Tokens_per_second_runs_full_training_steps()
    {
        using var pool = new WorkerPool(2);
        var m = new Transformer(TransformerConfig.Create("llama", ByteDataset.VocabSize, 64, 2, 4, 2, 16, 192, 64, tied: true), 2, 32);
        m.Parameters.Initialize(1);
        var before = (float[])m.Parameters.Data.Clone();
        double tps = Throughput.TokensPerSecond(m, 2, pool, warmupSteps: 1);
        Assert.True(double.IsFinite(tps) && tps > 0, $"tokens/s {tps}");
        // The steps trained: AdamW moved the weights.
        Assert.NotEqual(before, m.Parameters.Data);
    }
}
