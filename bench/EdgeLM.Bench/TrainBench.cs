// `EdgeLM.Bench train`: training speed in llm.c's terms, all in one run so that the figures share
// the machine's state: the F32 FMA peak (1 and N threads, Vector512 and Vector256 register loops, the
// higher taken), tokens/s of full training steps (forward, backward, AdamW) of a ~10M and a ~50M
// llama on byte tokens, MFU = 6 · parameters · tokens/s ÷ peak, where a step's time goes (the
// matrix multiplies, attention, the rest), and the Gemm against the earlier dot / axpy kernels
// (Linear.UseDotAxpy) on the same shapes and whole steps, as ratios, and what BF16 copies of the
// weights would change in the products that read them. Not a test: nothing here asserts a time.
// On a shared machine wall time measures the share of the CPUs we were given as much as our code, so
// every figure is also taken in process CPU time (clock_gettime(CLOCK_PROCESS_CPUTIME_ID), all our
// threads, spinning included): MFU (CPU) = 6 · parameters · tokens ÷ (CPU seconds × peak FLOPs per
// CPU second of the N-thread FMA loop). On an idle machine the two agree.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EdgeLM.Kernels;
using EdgeLM.Training;
using EdgeLM.Training.Layers;

namespace EdgeLM.Bench;

public static unsafe class TrainBench
{
    /// <summary>The two model sizes of the issue: llama blocks on the 259-symbol byte vocabulary, T = 256.</summary>
    static TransformerConfig Model(string name) => name switch
    {
        // 8 layers × (4·320² + 3·320·864) ≈ 9.9M
        "10m" => TransformerConfig.Create("llama", ByteDataset.VocabSize, 320, 8, 5, 5, 64, 864, 256, tied: true),
        // 10 layers × (4·640² + 3·640·1728) ≈ 49.6M
        "50m" => TransformerConfig.Create("llama", ByteDataset.VocabSize, 640, 10, 10, 10, 64, 1728, 256, tied: true),
        _ => throw new ArgumentException($"unknown model '{name}' (10m, 50m)"),
    };

    public static int Run(int threads, int batch, int seq, int steps, string[] models, TextWriter o)
    {
        o.WriteLine($"machine: {Environment.ProcessorCount} logical CPUs, Vector512 {Vector512.IsHardwareAccelerated}, " +
            $"Gemm tier {Gemm.BestTier}, load average {LoadAverage()}");
        double peak = 0, peakCpu = 0;
        foreach (int t in new[] { 1, threads }.Distinct())
        {
            using var p = new WorkerPool(t);
            var p512 = Vector512.IsHardwareAccelerated ? Peak(p, true) : default;
            var p256 = Peak(p, false);
            o.WriteLine($"FMA peak, {t} thread(s): Vector512 {p512.Wall / 1e9:F1} GFLOP/s ({p512.PerCpu * t / 1e9:F1} per {t} CPU-s), " +
                $"Vector256 {p256.Wall / 1e9:F1} GFLOP/s ({p256.PerCpu * t / 1e9:F1} per {t} CPU-s)");
            if (t == threads) (peak, peakCpu) = (Math.Max(p512.Wall, p256.Wall), Math.Max(p512.PerCpu, p256.PerCpu));
        }
        using var pool = new WorkerPool(threads);
        o.WriteLine();
        o.WriteLine($"| model | parameters | B×T | threads | tokens/s | MFU (wall) | MFU (CPU time) | step s | matmul share | attention share |");
        o.WriteLine("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|");
        var before = new List<string>();
        foreach (var name in models)
        {
            var config = Model(name);
            var m = new Transformer(config, batch, seq);
            m.Parameters.Initialize(1);
            var (wall, cpu) = TrainSteps(m, steps, pool);
            Linear.UseDotAxpy = true;
            var (oldWall, oldCpu) = TrainSteps(m, steps, pool);
            Linear.UseDotAxpy = false;
            before.Add($"~{name.ToUpperInvariant()}: step with the dot / axpy kernels ÷ with Gemm: wall {oldWall / wall:F2}×, CPU time {oldCpu / cpu:F2}× " +
                $"(dot / axpy: {(double)steps * batch * seq / oldWall:F0} tokens/s, MFU (CPU time) {6.0 * m.Parameters.Count * steps * batch * seq / (oldCpu * peakCpu):P1})");
            double tokens = (double)steps * batch * seq, flops = 6.0 * m.Parameters.Count * tokens;
            var (mm, att) = Breakdown(config, batch, seq, pool);
            o.WriteLine($"| ~{name.ToUpperInvariant()} | {m.Parameters.Count:N0} | {batch}×{seq} | {threads} | {tokens / wall:F0} | " +
                $"{flops / wall / peak:P1} | {flops / (cpu * peakCpu):P1} | {wall / steps:F2} | {mm / (cpu / steps):P0} | {att / (cpu / steps):P0} |");
        }
        o.WriteLine();
        foreach (var line in before) o.WriteLine(line);
        o.WriteLine();
        foreach (var name in models) CompareKernels(Model(name), batch * seq, pool, o);
        o.WriteLine($"load average at the end {LoadAverage()}");
        return 0;
    }

    /// <summary>Wall and process-CPU seconds of <paramref name="steps"/> full training steps after 2 warm-up steps
    /// (the JIT's tiering needs a few calls of each kernel before the code is final).</summary>
    static (double Wall, double Cpu) TrainSteps(Transformer model, int steps, WorkerPool pool)
    {
        var rng = new Random(1);
        var tokens = new int[Math.Max(4 * model.Acts.B * model.Acts.T, 4096)];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.Next(ByteDataset.FirstByte, model.Config.Model.VocabSize);
        var trainer = new Trainer(model, tokens, new TrainingOptions { Steps = steps + 2, WarmupSteps = 1 }, pool);
        trainer.Step();
        trainer.Step();
        return Clock(() => { for (int s = 0; s < steps; s++) trainer.Step(); });
    }

    [StructLayout(LayoutKind.Sequential)]
    struct Timespec
    {
        public long Seconds, Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out Timespec ts);

    /// <summary>CPU seconds of all this process's threads (Linux; elsewhere the coarser TotalProcessorTime).</summary>
    static double CpuSeconds()
    {
        const int ClockProcessCpuTimeId = 2;
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockProcessCpuTimeId, out var ts) == 0) return ts.Seconds + ts.Nanoseconds * 1e-9;
        return Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    }

    static (double Wall, double Cpu) Clock(Action work)
    {
        double c0 = CpuSeconds();
        long t0 = Stopwatch.GetTimestamp();
        work();
        return (Stopwatch.GetElapsedTime(t0).TotalSeconds, CpuSeconds() - c0);
    }

    static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>Seconds of one step's matrix multiplies (all projections and the head, forward and backward)
    /// and of its attention (forward and backward), each timed alone on the same shapes.</summary>
    static (double Matmul, double Attention) Breakdown(TransformerConfig config, int B, int T, WorkerPool pool)
    {
        var c = config.Model;
        int N = B * T, C = c.EmbeddingLength, Q = c.HeadCount * c.HeadDim, KV = c.HeadCountKv * c.HeadDim, F = c.FeedForwardLength;
        var shapes = new (int In, int Out)[] { (C, Q), (C, KV), (C, KV), (Q, C), (C, F), (C, F), (F, C) };
        double matmul = 0;
        foreach (var (cin, cout) in shapes) matmul += c.BlockCount * TimeLinear(N, cin, cout, pool, useGemm: true).Total;
        matmul += TimeLinear(N, C, c.VocabSize, pool, useGemm: true).Total;
        double attention = c.BlockCount * TimeAttention(B, T, c.HeadCount, c.HeadCountKv, c.HeadDim, pool);
        return (matmul, attention);
    }

    static void CompareKernels(TransformerConfig config, int N, WorkerPool pool, TextWriter o)
    {
        var c = config.Model;
        int C = c.EmbeddingLength, F = c.FeedForwardLength;
        using var single = new WorkerPool(1);
        foreach (var (cin, cout) in new[] { (C, F), (F, C) })
        {
            // Alternated, best of 3 rounds each: load from other processes hits both sides alike.
            (double Forward, double Backward, double Total) g = (double.MaxValue, double.MaxValue, 0), d = g, s = g;
            for (int r = 0; r < 3; r++)
            {
                g = Min(g, TimeLinear(N, cin, cout, pool, useGemm: true));
                d = Min(d, TimeLinear(N, cin, cout, pool, useGemm: false));
                s = Min(s, TimeLinear(N, cin, cout, single, useGemm: true));
            }
            double flops = 2.0 * N * cin * cout;
            var (f32, bf16) = TimeBf16Weights(N, cin, cout, pool);
            o.WriteLine($"N={N} C={cin} OC={cout}, weights as BF16 (widened while packing) ÷ F32, forward + input gradient time: " +
                $"{bf16 / f32:F3} ({2 * flops / f32 / 1e9:F1} vs {2 * flops / bf16 / 1e9:F1} GFLOP per CPU-second)");
            o.WriteLine($"N={N} C={cin} OC={cout}, GFLOP per CPU-second: Gemm fwd {flops / g.Forward / 1e9:F1} / bwd {2 * flops / g.Backward / 1e9:F1} " +
                $"(1 thread {flops / s.Forward / 1e9:F1} / {2 * flops / s.Backward / 1e9:F1}); " +
                $"dot-axpy fwd {flops / d.Forward / 1e9:F1} / bwd {2 * flops / d.Backward / 1e9:F1}; " +
                $"Gemm ÷ dot-axpy time: fwd {g.Forward / d.Forward:F2}, bwd {g.Backward / d.Backward:F2}");
        }
    }

    /// <summary>CPU seconds of y = x·Wᵀ plus dx = dy·W (the two products that read the weights) with W in
    /// F32 and in BF16, alternated, best of 3 each: what keeping BF16 copies of the weights would save.</summary>
    static unsafe (double F32, double Bf16) TimeBf16Weights(int N, int C, int OC, WorkerPool pool)
    {
        var rng = new Random(5);
        float[] x = Fill(rng, N * C), w = Fill(rng, OC * C), y = new float[N * OC], dx = new float[N * C];
        var w16 = new ushort[w.Length];
        for (int i = 0; i < w.Length; i++) w16[i] = (ushort)(BitConverter.SingleToInt32Bits(w[i]) >>> 16);
        double f32 = double.MaxValue, bf16 = double.MaxValue;
        fixed (float* px = x) fixed (float* pw = w) fixed (float* py = y) fixed (float* pdx = dx) fixed (ushort* p16 = w16)
        {
            float* ax = px, aw = pw, ay = py, adx = pdx;
            ushort* a16 = p16;
            for (int r = 0; r < 3; r++)
            {
                f32 = Math.Min(f32, Best(() =>
                {
                    Gemm.Multiply(ay, OC, ax, C, 1, aw, 1, C, N, OC, C, accumulate: false, pool);
                    Gemm.Multiply(adx, C, ay, OC, 1, aw, C, 1, N, C, OC, accumulate: false, pool);
                }));
                bf16 = Math.Min(bf16, Best(() =>
                {
                    Gemm.MultiplyBf16B(ay, OC, ax, C, 1, a16, 1, C, N, OC, C, accumulate: false, pool);
                    Gemm.MultiplyBf16B(adx, C, ay, OC, 1, a16, C, 1, N, C, OC, accumulate: false, pool);
                }));
            }
        }
        return (f32, bf16);
    }

    static (double, double, double) Min((double F, double B, double T) x, (double F, double B, double T) y) =>
        (Math.Min(x.F, y.F), Math.Min(x.B, y.B), 0);

    /// <summary>Process CPU seconds of forward and of backward (dinp and dweight) at one shape: best of 3
    /// rounds after a warm-up, each round repeated to last ~0.3 s (other threads' CPU time reaches the
    /// process clock only at their next scheduler tick, a few ms).</summary>
    static (double Forward, double Backward, double Total) TimeLinear(int N, int C, int OC, WorkerPool pool, bool useGemm)
    {
        var rng = new Random(3);
        float[] x = Fill(rng, N * C), w = Fill(rng, OC * C), y = new float[N * OC], dx = new float[N * C], dw = new float[OC * C];
        void Fwd() => Linear.Forward(y, x, w, default, N, C, OC, pool);
        void Bwd() => Linear.Backward(dx, dw, default, y, x, w, N, C, OC, pool);
        Linear.UseDotAxpy = !useGemm;
        try
        {
            double f = Best(Fwd), b = Best(Bwd);
            return (f, b, f + b);
        }
        finally
        {
            Linear.UseDotAxpy = false;
        }
    }

    /// <summary>CPU seconds of one call of <paramref name="work"/>, best of 3 rounds of ~0.3 s.</summary>
    static double Best(Action work)
    {
        int reps = (int)Math.Clamp(0.3 / Math.Max(1e-6, Clock(work).Wall), 1, 200);
        double best = double.MaxValue;
        for (int r = 0; r < 3; r++)
            best = Math.Min(best, Clock(() => { for (int i = 0; i < reps; i++) work(); }).Cpu / reps);
        return best;
    }

    static double TimeAttention(int B, int T, int Hq, int Hkv, int D, WorkerPool pool)
    {
        var rng = new Random(4);
        float[] q = Fill(rng, B * T * Hq * D), k = Fill(rng, B * T * Hkv * D), v = Fill(rng, B * T * Hkv * D);
        float[] y = new float[q.Length], att = new float[B * Hq * T * T], dq = new float[q.Length], dk = new float[k.Length], dv = new float[v.Length];
        return Best(() =>
        {
            Attention.Forward(y, att, q, k, v, B, T, Hq, Hkv, D, pool);
            Attention.Backward(dq, dk, dv, y, q, k, v, att, B, T, Hq, Hkv, D, pool);
        });
    }

    static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>F32 FLOP/s of all the pool's threads running independent FMA chains in registers, and FLOPs per
    /// CPU second of one thread while all run; best of 3 runs of ~0.3 s each.</summary>
    static (double Wall, double PerCpu) Peak(WorkerPool pool, bool wide)
    {
        const int Iterations = 100_000_000;
        var job = new FmaJob(Iterations, wide);
        pool.For(pool.ThreadCount, 1, job);
        double wall = double.MaxValue, cpu = double.MaxValue;
        for (int r = 0; r < 3; r++)
        {
            var (w, c) = Clock(() => pool.For(pool.ThreadCount, 1, job));
            (wall, cpu) = (Math.Min(wall, w), Math.Min(cpu, c));
        }
        double flops = (double)pool.ThreadCount * Iterations * FmaJob.Chains * (wide ? 16 : 8) * 2;
        return (flops / wall, flops / cpu);
    }

    sealed class FmaJob(int iterations, bool wide) : IParallelJob
    {
        /// <summary>Twelve independent chains: more than latency (4) × FMA pipes (2) of current x86 cores.</summary>
        public const int Chains = 12;
        public float Sink;

        public void Execute(int start, int end) => Sink += wide ? Run512(iterations) : Run256(iterations);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static float Run512(int n)
        {
            var m = Vector512.Create(0.999f); var a = Vector512.Create(1e-3f);
            Vector512<float> x0 = Vector512<float>.One, x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0, xa = x0, xb = x0;
            for (int i = 0; i < n; i++)
            {
                x0 = Vector512.FusedMultiplyAdd(x0, m, a); x1 = Vector512.FusedMultiplyAdd(x1, m, a); x2 = Vector512.FusedMultiplyAdd(x2, m, a);
                x3 = Vector512.FusedMultiplyAdd(x3, m, a); x4 = Vector512.FusedMultiplyAdd(x4, m, a); x5 = Vector512.FusedMultiplyAdd(x5, m, a);
                x6 = Vector512.FusedMultiplyAdd(x6, m, a); x7 = Vector512.FusedMultiplyAdd(x7, m, a); x8 = Vector512.FusedMultiplyAdd(x8, m, a);
                x9 = Vector512.FusedMultiplyAdd(x9, m, a); xa = Vector512.FusedMultiplyAdd(xa, m, a); xb = Vector512.FusedMultiplyAdd(xb, m, a);
            }
            return Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + xa + xb);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static float Run256(int n)
        {
            var m = Vector256.Create(0.999f); var a = Vector256.Create(1e-3f);
            Vector256<float> x0 = Vector256<float>.One, x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0, xa = x0, xb = x0;
            for (int i = 0; i < n; i++)
            {
                x0 = Vector256.FusedMultiplyAdd(x0, m, a); x1 = Vector256.FusedMultiplyAdd(x1, m, a); x2 = Vector256.FusedMultiplyAdd(x2, m, a);
                x3 = Vector256.FusedMultiplyAdd(x3, m, a); x4 = Vector256.FusedMultiplyAdd(x4, m, a); x5 = Vector256.FusedMultiplyAdd(x5, m, a);
                x6 = Vector256.FusedMultiplyAdd(x6, m, a); x7 = Vector256.FusedMultiplyAdd(x7, m, a); x8 = Vector256.FusedMultiplyAdd(x8, m, a);
                x9 = Vector256.FusedMultiplyAdd(x9, m, a); xa = Vector256.FusedMultiplyAdd(xa, m, a); xb = Vector256.FusedMultiplyAdd(xb, m, a);
            }
            return Vector256.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + xa + xb);
        }
    }
}
