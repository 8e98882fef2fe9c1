// The prompt-processing matrix multiply as the engine runs it, one thread: y (T, rows) = x (T, cols) · Wᵀ
// from float activations, i.e. quantize x to the vec_dot type, then QuantKernels.MatMulRows over the
// whole matrix (the blocked kernel), beside the previous path (KQuantGemm for Q4_K / Q6_K, else
// VecDotRowsMulti over 16-row blocks and a scatter into y, as MatMul once ran it) and beside llama.cpp's ggml_mul_mat on the same bytes (its time
// also includes quantizing x). Engines alternate within each run; medians are printed. "x old" and
// "x ggml" are speed ratios: the blocked path's GF/s over the other's (above 1: the blocked path is faster).
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.KernelBench;

internal static unsafe class GemmBench
{
    const int Block = 16; // rows per VecDotRowsMulti call in the previous MatMul

    public static void Header() => Console.WriteLine(
        $"{"type",-5} {"rows x cols",-12} {"T",3} | {"gemm GF/s",9} | {"old GF/s",8} | {"ggml GF/s",9} | {"x old",8} {"x ggml",9} | {"max rel diff",12}");

    public static void Run(GgmlType type, int rows, int cols, int T, int runs, double minMs, bool ggml)
    {
        if (cols % GgmlTypes.Info(type).BlockSize != 0) return;
        var vt = QuantKernels.VecDotType(type);
        long rb = GgmlTypes.RowBytes(type, cols);
        int ab = (int)GgmlTypes.RowBytes(vt, cols);
        byte* w = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(rb * rows), 64);
        var x = new float[T * cols];
        for (int t = 0; t < T; t++) Bench.Gaussian(cols, 7 + t).CopyTo(x, t * cols);
        var xq = new byte[ab * T];
        float[] yGemm = new float[T * rows], yOld = new float[T * rows], tmp = new float[Block * T];
        List<double> gemm = [], old = [], peer = [];
        GgmlMulMat? mm = null;
        try
        {
            Bench.FillWeights(type, w, rb, rows, cols);
            if (ggml)
            {
                mm = new GgmlMulMat(type, w, rows, cols, T, 1);
                mm.SetInput(x);
            }
            Action fGemm = () =>
            {
                Quantize(vt, x, xq, T, cols, ab);
                QuantKernels.MatMulRows(type, w, rb, 0, rows, xq, ab, T, yGemm, rows, cols);
            };
            var prev = Previous(type);
            Action fOld = () =>
            {
                Quantize(vt, x, xq, T, cols, ab);
                if (prev != null)
                {
                    fixed (byte* pa = xq)
                    fixed (float* py = yOld)
                        prev(w, rb, rows, pa, ab, T, py, rows, cols);
                    return;
                }
                for (int r0 = 0; r0 < rows; r0 += Block)
                {
                    int n = Math.Min(Block, rows - r0);
                    QuantKernels.VecDotRowsMulti(type, w, rb, r0, r0 + n, xq, ab, T, tmp.AsSpan(0, n * T), cols);
                    for (int t = 0; t < T; t++) tmp.AsSpan(t * n, n).CopyTo(yOld.AsSpan(t * rows + r0, n));
                }
            };
            Action fGgml = () => mm!.Compute();
            fGemm(); fOld(); mm?.Compute();
            int reps = Math.Max(1, (int)Math.Ceiling(minMs / Math.Max(Bench.Time(fGemm, 1), 1e-3)));
            for (int r = 0; r < runs; r++)
            {
                gemm.Add(Bench.Time(fGemm, reps));
                old.Add(Bench.Time(fOld, reps));
                if (mm != null) peer.Add(Bench.Time(fGgml, reps));
            }
            // The blocked kernels sum in other orders than the old paths (F16 / BF16: one accumulator per
            // output; the rows-in-lanes tiles: one FMA per block): they must agree to float reassociation.
            double oldDiff = Bench.MaxRelDiff(yGemm, yOld, true);
            if (oldDiff > 1e-5)
                throw new InvalidOperationException($"{type} {rows}x{cols}: gemm and old differ by {oldDiff:E2} (relative)");
            double el = (double)rows * cols * T;
            double g = Bench.Median(gemm), o = Bench.Median(old), p = mm != null ? Bench.Median(peer) : double.NaN;
            double diff = mm != null ? Bench.MaxRelDiff(yGemm, mm.Output(yGemm.Length).ToArray(), true) : double.NaN;
            Console.WriteLine($"{type,-5} {$"{rows}x{cols}",-12} {T,3} | {Gf(el, g),9:F1} | {Gf(el, o),8:F1} | {Gf(el, p),9:F1} | {o / g,8:F2} {p / g,9:F2} | {diff,12:E2}");
        }
        finally
        {
            mm?.Dispose();
            System.Runtime.InteropServices.NativeMemory.AlignedFree(w);
        }
    }

    /// <summary>The blocked kernel the K-quants' rows-in-lanes tile replaced (KQuantGemm, still the path
    /// below four activations); null for the other types ("old" is then VecDotRowsMulti).</summary>
    static delegate*<byte*, long, int, byte*, long, int, float*, int, int, void> Previous(GgmlType type) =>
        type switch
        {
            GgmlType.Q4_K when KQuantLanes.Supported => &KQuantGemm.RowsQ4_K,
            GgmlType.Q6_K when KQuantLanes.Supported => &KQuantGemm.RowsQ6_K,
            _ => null,
        };

    static void Quantize(GgmlType vt, float[] x, byte[] xq, int T, int cols, int ab)
    {
        for (int t = 0; t < T; t++) QuantKernels.Quantize(vt, x.AsSpan(t * cols, cols), xq.AsSpan(t * ab, ab));
    }

    static double Gf(double elements, double ms) => 2 * elements / (ms * 1e6);
}
