// The prompt-processing question: how fast is one weight matrix against a micro-batch of activation
// rows (QuantKernels.VecDotRowsMulti over 16-row blocks, as the engine's MatMul calls it), beside the
// same product as one VecDot per (row, activation) (what VecDotRowsMulti did before it was tiled) and
// beside llama.cpp's vec_dot called per (row, activation). ggml's figure is a lower bound for
// llama.cpp's prompt speed: its mul_mat may also take llamafile's tiled sgemm, which this does not call.
using System.Diagnostics;
using System.Runtime.InteropServices;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.KernelBench;

internal static unsafe class MultiBench
{
    const int Block = 16; // rows per VecDotRowsMulti call, as src/EdgeLM/Models/MatMul.cs

    public static void Header() => Console.WriteLine(
        $"{"type",-5} {"rows x cols",-12} {"acts",4} | {"tiled GF/s",10} {"ps/el",6} | {"loop GF/s",9} {"ps/el",6} | {"ggml GF/s",9} {"ps/el",6} | {"tiled/loop",10} {"tiled/ggml",10} | {"max rel diff",12}");

    public static void Run(GgmlType type, int rows, int cols, int acts, int runs, double minMs, bool ggml)
    {
        if (cols % GgmlTypes.Info(type).BlockSize != 0) return;
        var vt = QuantKernels.VecDotType(type);
        long rb = GgmlTypes.RowBytes(type, cols), bytes = rb * rows;
        int ab = (int)GgmlTypes.RowBytes(vt, cols);
        byte* w = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        var act = new byte[ab * acts];
        for (int t = 0; t < acts; t++) QuantKernels.Quantize(vt, Bench.Gaussian(cols, 7 + t), act.AsSpan(t * ab, ab));
        var yTiled = new float[rows * acts];
        var yLoop = new float[rows * acts];
        var yGgml = new float[rows * acts];
        var tiled = new List<double>();
        var loop = new List<double>();
        var peer = new List<double>();
        try
        {
            Bench.FillWeights(type, w, rb, rows, cols);
            fixed (byte* a = act)
            fixed (float* yg = yGgml)
            {
                byte* ap = a;
                float* ygp = yg;
                Action fTiled = () => Tiled(type, w, rb, rows, act, ab, acts, yTiled, cols);
                Action fLoop = () => Loop(type, w, rb, rows, act, ab, acts, yLoop, cols);
                Action fGgml = () => Ggml(type, w, rb, rows, ap, ab, acts, ygp, cols);
                fTiled(); fLoop();
                if (ggml) fGgml();
                int reps = Math.Max(1, (int)Math.Ceiling(minMs / Math.Max(Bench.Time(fTiled, 1), 1e-3)));
                for (int r = 0; r < runs; r++)
                {
                    tiled.Add(Bench.Time(fTiled, reps));
                    loop.Add(Bench.Time(fLoop, reps));
                    if (ggml) peer.Add(Bench.Time(fGgml, reps));
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(w);
        }
        double el = (double)rows * cols * acts;
        double o = Bench.Median(tiled), l = Bench.Median(loop), g = ggml ? Bench.Median(peer) : double.NaN;
        double diff = Bench.MaxRelDiff(yTiled, ggml ? yGgml : yLoop, true);
        Console.WriteLine($"{type,-5} {$"{rows}x{cols}",-12} {acts,4} | {Gf(el, o),10:F1} {Bench.Ps(o, el),6:F1} | {Gf(el, l),9:F1} {Bench.Ps(l, el),6:F1} | {Gf(el, g),9:F1} {Bench.Ps(g, el),6:F1} | {l / o,10:F2} {g / o,10:F2} | {diff,12:E2}");
    }

    static double Gf(double elements, double ms) => 2 * elements / (ms * 1e6);

    /// <summary>y is (acts, rows), written block by block as the engine scatters it.</summary>
    static void Tiled(GgmlType type, byte* w, long rb, int rows, byte[] act, int ab, int acts, float[] y, int cols)
    {
        Span<float> tmp = stackalloc float[Block * 64];
        for (int r0 = 0; r0 < rows; r0 += Block)
        {
            int n = Math.Min(Block, rows - r0);
            var part = tmp[..(n * acts)];
            QuantKernels.VecDotRowsMulti(type, w, rb, r0, r0 + n, act, ab, acts, part, cols);
            for (int t = 0; t < acts; t++) part.Slice(t * n, n).CopyTo(y.AsSpan(t * rows + r0, n));
        }
    }

    static void Loop(GgmlType type, byte* w, long rb, int rows, byte[] act, int ab, int acts, float[] y, int cols)
    {
        var wr = new ReadOnlySpan<byte>(w, (int)(rb * rows));
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < acts; t++)
                y[t * rows + r] = QuantKernels.VecDot(type, wr.Slice((int)(r * rb), (int)rb), act.AsSpan(t * ab, ab), cols);
    }

    static void Ggml(GgmlType type, byte* w, long rb, int rows, byte* a, int ab, int acts, float* y, int cols)
    {
        for (int r0 = 0; r0 < rows; r0 += Block)
        {
            int n = Math.Min(Block, rows - r0);
            for (int t = 0; t < acts; t++) GgmlDots.Rows(type, w + r0 * rb, rb, n, a + (long)t * ab, y + (long)t * rows + r0, cols);
        }
    }
}
