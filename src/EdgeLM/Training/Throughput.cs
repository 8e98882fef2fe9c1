// Training speed in the terms llm.c and nanoGPT report it: tokens per second, and model-FLOPs
// utilisation (MFU) = 6 · parameters · tokens/s (forward 2, backward 4 FLOPs per parameter per token;
// attention's own FLOPs are not counted) over the machine's measured F32 fused-multiply-add peak.
// The peak is measured, not taken from a data sheet: independent FMA chains on the widest vector
// the JIT uses, on every thread of the pool at once.
using System.Diagnostics;
using System.Numerics;
using EdgeLM.Kernels;

namespace EdgeLM.Training;

public static class Throughput
{
    /// <summary>Peak F32 FLOP/s (an FMA counts 2) of the pool's threads together.</summary>
    public static double PeakFlops(WorkerPool pool, int iterations = 20_000_000)
    {
        var job = new FmaJob(iterations);
        pool.For(pool.ThreadCount, 1, job); // warm-up: JIT the loop at full optimisation
        var sw = Stopwatch.StartNew();
        pool.For(pool.ThreadCount, 1, job);
        double seconds = sw.Elapsed.TotalSeconds;
        return (double)pool.ThreadCount * iterations * FmaJob.Chains * Vector<float>.Count * 2 / seconds;
    }

    /// <summary>Tokens per second of full training steps (forward, backward, AdamW) after warm-up steps
    /// (the JIT's tiering needs a few calls of each kernel before the code is final).</summary>
    public static double TokensPerSecond(Transformer model, int steps, WorkerPool pool, int warmupSteps = 5)
    {
        var rng = new Random(1);
        int n = model.Acts.B * model.Acts.T;
        var tokens = new int[Math.Max(4 * n, 4096)];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.Next(ByteDataset.FirstByte, model.Config.Model.VocabSize);
        var trainer = new Trainer(model, tokens, new TrainingOptions { Steps = steps + warmupSteps, WarmupSteps = 1 }, pool);
        for (int s = 0; s < warmupSteps; s++) trainer.Step();
        var sw = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++) trainer.Step();
        return (double)steps * n / sw.Elapsed.TotalSeconds;
    }

    /// <summary>6 · parameters · tokens/s over the peak.</summary>
    public static double ModelFlopsUtilization(long parameters, double tokensPerSecond, double peakFlops) =>
        6.0 * parameters * tokensPerSecond / peakFlops;

    sealed class FmaJob(int iterations) : IParallelJob
    {
        public const int Chains = 8;
        public float Sink;

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void Execute(int start, int end)
        {
            var m = new Vector<float>(0.999f);
            var a = new Vector<float>(1e-3f);
            Vector<float> x0 = Vector<float>.One, x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0;
            for (int i = 0; i < iterations; i++)
            {
                // Eight independent chains cover the FMA latency × throughput of current cores.
                x0 = Vector.FusedMultiplyAdd(x0, m, a); x1 = Vector.FusedMultiplyAdd(x1, m, a);
                x2 = Vector.FusedMultiplyAdd(x2, m, a); x3 = Vector.FusedMultiplyAdd(x3, m, a);
                x4 = Vector.FusedMultiplyAdd(x4, m, a); x5 = Vector.FusedMultiplyAdd(x5, m, a);
                x6 = Vector.FusedMultiplyAdd(x6, m, a); x7 = Vector.FusedMultiplyAdd(x7, m, a);
            }
            Sink += Vector.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7);
        }
    }
}
