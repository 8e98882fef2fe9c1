// EdgeLM.KernelBench: one question: how fast is one decode-shaped matrix-vector product (every row of
// a weight matrix against one activation row, single-threaded) in EdgeLM (QuantKernels.VecDotRows),
// in llama.cpp (vec_dot row by row) and as a plain streaming read of the same bytes?
// Usage: dotnet run -c Release --project bench/EdgeLM.KernelBench -- [--runs N] [--types Q4_K,Q8_0]
//        [--shapes 4864x896,2048x2048] [--min-ms M] [--acts T] [--gemm T] [--stat median|min] [--repacked true]
//        [--huge-pages true] [--threads N]
// With --huge-pages true, the weights (and their repacked copy) sit in a WeightArena, as a loaded model's
// copies do: 2 MiB-aligned and advised for transparent huge pages on Linux (the plain read too).
// With --repacked true, "ours" is the decode product over the layout built at load (DecodeRepack) for the
// types and row lengths that have one on this CPU, as a model loaded with repacking runs it.
// With --threads N (decode question only) every product, ggml's and the plain read included, is split over the
// engine's WorkerPool of N threads as a decode step splits it (whole sixteen-row groups, eight chunks for two
// threads claimed as they come), so the figures are the matrix's rate with N cores reading at once.
// With --acts T it asks the prompt-processing question instead (MultiBench.cs): the same
// matrices against T activation rows at once. With --gemm T, the whole prompt-processing matrix
// multiply (GemmBench.cs): quantize + blocked MatMulRows vs the previous tiled path vs ggml_mul_mat.
// The engines alternate inside each run so machine noise hits all of them alike; medians are printed,
// or with --stat min the fastest sample of each (on a machine shared with other work, the run least
// disturbed: the median then measures the neighbours as much as the kernels).
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EdgeLM.KernelBench;
using EdgeLM.Models;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

var types = new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.F16, GgmlType.BF16 };
var shapes = new[] { (4864, 896), (896, 4864), (151936, 896), (2048, 2048), (8192, 2048) };
int runs = 7, acts = 0, gemm = 0;
double minMs = 20;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--runs": runs = int.Parse(args[i + 1]); break;
        case "--min-ms": minMs = double.Parse(args[i + 1]); break;
        case "--acts": acts = int.Parse(args[i + 1]); break;
        case "--gemm": gemm = int.Parse(args[i + 1]); break;
        case "--stat": Bench.UseMin = args[i + 1] == "min"; break;
        case "--repacked": Bench.Repacked = args[i + 1] != "false"; break;
        case "--huge-pages": Bench.HugePages = args[i + 1] != "false"; break;
        case "--threads": Bench.Pool = int.Parse(args[i + 1]) is > 1 and var n ? new EdgeLM.Kernels.WorkerPool(n) : null; break;
        case "--types": types = args[i + 1].Split(',').Select(Enum.Parse<GgmlType>).ToArray(); break;
        case "--shapes":
            shapes = args[i + 1].Split(',').Select(s => s.Split('x')).Select(p => (int.Parse(p[0]), int.Parse(p[1]))).ToArray();
            break;
        default: throw new ArgumentException($"unknown option {args[i]}; known: --runs --min-ms --types --shapes --acts --gemm --stat --repacked --huge-pages --threads");
    }
}

bool ggml = GgmlDots.Available;
Console.WriteLine($"SIMD: {Vector512.IsHardwareAccelerated}/512, threads {Bench.Pool?.ThreadCount ?? 1}, runs {runs}, >= {minMs} ms per sample, ggml {(ggml ? "avx512 build" : "not available")}");
if (gemm > 0)
{
    GemmBench.Header();
    foreach (var type in types)
        foreach (var (rows, cols) in shapes)
            GemmBench.Run(type, rows, cols, gemm, runs, minMs, ggml);
    return;
}
if (acts > 0)
{
    MultiBench.Header();
    foreach (var type in types)
        foreach (var (rows, cols) in shapes)
            MultiBench.Run(type, rows, cols, acts, runs, minMs, ggml);
    return;
}
Console.WriteLine($"{"type",-5} {"rows x cols",-12} {"MB",7} | {"ours GB/s",9} {"ps/el",7} | {"ggml GB/s",9} {"ps/el",7} | {"read GB/s",9} {"ps/el",7} | {"ggml/ours",9} {"ours/read",9} | {"max rel diff",12}");
// Tiered JIT: a method reaches its optimized code only after the runtime has seen no new tier-0
// code for a while, so every kernel is driven for two seconds before anything is timed.
var prewarm = Stopwatch.StartNew();
while (prewarm.ElapsedMilliseconds < 2000)
    foreach (var type in types) Bench.Warm(type);
foreach (var type in types)
    foreach (var (rows, cols) in shapes)
        Bench.Run(type, rows, cols, runs, minMs, ggml);

internal static unsafe class Bench
{
    public static void Run(GgmlType type, int rows, int cols, int runs, double minMs, bool ggml)
    {
        if (cols % GgmlTypes.Info(type).BlockSize != 0)
        {
            Console.WriteLine($"{type,-5} {$"{rows}x{cols}",-12} rows are not whole {GgmlTypes.Info(type).BlockSize}-element blocks");
            return;
        }
        var vt = QuantKernels.VecDotType(type);
        long rb = GgmlTypes.RowBytes(type, cols), bytes = rb * rows;
        bool repack = Repacked && DecodeRepack.CanRepack(type, cols);
        long packedBytes = repack ? DecodeRepack.Size(type, rows, cols) : 0;
        using var arena = HugePages ? WeightArena.Allocate(repack ? [bytes, packedBytes] : [bytes]) : null;
        byte* w = arena != null ? arena.Take(bytes) : (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64), packed = null;
        try
        {
            FillWeights(type, w, rb, rows, cols);
            var act = new byte[GgmlTypes.RowBytes(vt, cols)];
            QuantKernels.Quantize(vt, Gaussian(cols, 7), act);
            var yOurs = new float[rows];
            var yGgml = new float[rows];
            var ours = new List<double>();
            var peer = new List<double>();
            var read = new List<double>();
            if (repack && arena != null)
            {
                packed = arena.Take(packedBytes);
                if (!DecodeRepack.Pack(type, w, rb, rows, cols, packed)) throw new InvalidOperationException($"{type} did not repack");
            }
            else if (repack)
                packed = DecodeRepack.Create(type, w, rb, rows, cols);
            fixed (byte* a = act)
            fixed (float* yg = yGgml)
            fixed (float* yo = yOurs)
            {
                byte* ap = a;
                float* ygp = yg, yop = yo;
                Action<int, int> oursRows = packed != null
                    ? (r0, r1) => DecodeRepack.Rows(type, packed, rows, cols, r0, r1, ap, yop + r0)
                    : (r0, r1) => QuantKernels.VecDotRows(type, w, rb, r0, r1, new ReadOnlySpan<byte>(ap, act.Length), new Span<float>(yop + r0, r1 - r0), cols);
                Action oursRun = () => Split(rows, oursRows);
                Action peerRun = () => Split(rows, (r0, r1) => GgmlDots.Rows(type, w + r0 * rb, rb, r1 - r0, ap, ygp + r0, cols));
                Action readRun = () => Split(rows, (r0, r1) => StreamRead(w + r0 * rb, (r1 - r0) * rb));
                // Warm up (tiered JIT reaches its optimized code after some calls), then repetitions
                // per sample so a sample lasts at least minMs (timer resolution, noise).
                var warm = Stopwatch.StartNew();
                while (warm.ElapsedMilliseconds < 300)
                {
                    oursRun();
                    readRun();
                }
                if (ggml) peerRun();
                double once = Time(oursRun, 1);
                int reps = Math.Max(1, (int)Math.Ceiling(minMs / Math.Max(once, 1e-3)));
                for (int r = 0; r < runs; r++)
                {
                    ours.Add(Time(oursRun, reps));
                    if (ggml) peer.Add(Time(peerRun, reps));
                    read.Add(Time(readRun, reps));
                }
            }
            double elements = (double)rows * cols;
            double o = Median(ours), g = ggml ? Median(peer) : double.NaN, b = Median(read);
            Console.WriteLine($"{type,-5} {$"{rows}x{cols}",-12} {bytes / 1e6,7:F1} | {Gbs(bytes, o),9:F1} {Ps(o, elements),7:F1} | {Gbs(bytes, g),9:F1} {Ps(g, elements),7:F1} | {Gbs(bytes, b),9:F1} {Ps(b, elements),7:F1} | {g / o,9:F2} {b / o,9:F2} | {MaxRelDiff(yOurs, yGgml, ggml),12:E2}");
        }
        finally
        {
            if (arena == null)
            {
                NativeMemory.AlignedFree(w);
                if (packed != null) DecodeRepack.Free(packed);
            }
        }
    }

    /// <summary>--threads N: the pool every product is split over (null: one thread).</summary>
    internal static EdgeLM.Kernels.WorkerPool? Pool;

    /// <summary>f over row ranges [r0, r1) covering rows 0..rows: whole sixteen-row groups over the pool, as MatMul splits a
    /// decode product (at most eight chunks per two threads, claimed as they come); one call f(0, rows) without a pool.</summary>
    static void Split(int rows, Action<int, int> f)
    {
        if (Pool == null)
        {
            f(0, rows);
            return;
        }
        int groups = DecodeRepack.Groups(rows);
        Pool.For(groups, 1, new Job(rows, f));
    }

    sealed class Job(int rows, Action<int, int> f) : EdgeLM.Kernels.IParallelJob
    {
        public void Execute(int start, int end) => f(start * DecodeRepack.GroupRows, Math.Min(rows, end * DecodeRepack.GroupRows));
    }

    /// <summary>--repacked: time the decode product over DecodeRepack's layout where the type has one.</summary>
    internal static bool Repacked;

    /// <summary>--huge-pages: weights and copies in a WeightArena, as a loaded model's copies are.</summary>
    internal static bool HugePages;

    public static void Warm(GgmlType type)
    {
        int n = 16 * GgmlTypes.Info(type).BlockSize, rows = 64;
        var w = new byte[GgmlTypes.RowBytes(type, n) * rows];
        var a = new byte[GgmlTypes.RowBytes(QuantKernels.VecDotType(type), n)];
        var y = new float[rows];
        fixed (byte* wp = w) QuantKernels.VecDotRows(type, wp, w.Length / rows, 0, rows, a, y, n);
    }

    internal static double Gbs(long bytes, double ms) => bytes / (ms * 1e6);
    internal static double Ps(double ms, double elements) => ms * 1e9 / elements;

    /// <summary>Milliseconds per repetition.</summary>
    internal static double Time(Action f, int reps)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) f();
        return sw.Elapsed.TotalMilliseconds / reps;
    }

    /// <summary>--stat min: Median reports the fastest sample instead.</summary>
    internal static bool UseMin;

    internal static double Median(List<double> v)
    {
        v.Sort();
        if (UseMin) return v[0];
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    /// <summary>Largest |ours - ggml| relative to the largest |ggml| output: both engines did the same
    /// work only if this is at float-rounding level.</summary>
    internal static double MaxRelDiff(float[] a, float[] b, bool have)
    {
        if (!have) return double.NaN;
        double d = 0, m = 1e-30;
        for (int i = 0; i < a.Length; i++)
        {
            d = Math.Max(d, Math.Abs(a[i] - b[i]));
            m = Math.Max(m, Math.Abs(b[i]));
        }
        return d / m;
    }

    /// <summary>The bandwidth baseline: every byte loaded once with 512-bit loads into four
    /// independent xor accumulators (no arithmetic to wait on).</summary>
    static void StreamRead(byte* p, long bytes)
    {
        var a0 = Vector512<byte>.Zero;
        var a1 = a0; var a2 = a0; var a3 = a0;
        long i = 0;
        for (; i + 256 <= bytes; i += 256)
        {
            a0 ^= Vector512.LoadAligned(p + i);
            a1 ^= Vector512.LoadAligned(p + i + 64);
            a2 ^= Vector512.LoadAligned(p + i + 128);
            a3 ^= Vector512.LoadAligned(p + i + 192);
        }
        byte tail = 0;
        for (; i < bytes; i++) tail ^= p[i];
        Sink = (a0 ^ a1 ^ a2 ^ a3).ToScalar() ^ tail;
    }

    static volatile int sink;
    static int Sink { set => sink = value; }

    /// <summary>Real quantized rows: 64 distinct Gaussian rows through the reference quantizer, tiled
    /// over the matrix (the K-quant searches are too slow to run over 136 M weights).</summary>
    internal static void FillWeights(GgmlType type, byte* w, long rb, int rows, int cols)
    {
        int distinct = Math.Min(rows, 64);
        for (int r = 0; r < distinct; r++)
            QuantKernels.QuantizeReference(type, Gaussian(cols, 100 + r), new Span<byte>(w + r * rb, (int)rb));
        for (int r = distinct; r < rows; r++)
            Buffer.MemoryCopy(w + (r % distinct) * rb, w + r * rb, rb, rb);
    }

    internal static float[] Gaussian(int n, int seed)
    {
        var r = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
        return x;
    }
}
