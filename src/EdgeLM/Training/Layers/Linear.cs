// Training layer: a fully connected layer with optional bias, out = inp · Wᵀ + b, with W stored as
// GGUF stores it ((OC, C), one output row per weight row). The forward and both backward products
// are blocked, packed matrix multiplies (Gemm) on the WorkerPool, each output element written by one
// worker in a fixed order, so a training step is bit-identical from run to run.
// LinearJob below is the earlier dot / axpy form, kept for the frozen-weight input gradient of LoRA
// (FrozenLinear) and as the "before" of the training benchmark (UseDotAxpy).
// Legend: N = B·T rows, C = input channels, OC = output channels.
using System.Numerics.Tensors;
using EdgeLM.Kernels;

namespace EdgeLM.Training.Layers;

public static unsafe class Linear
{
    [ThreadStatic] static LinearJob? t_job;

    /// <summary>Runs the earlier dot / axpy kernels (LinearJob) instead of Gemm, for every thread: only for the
    /// training benchmark's before / after comparison in one run.</summary>
    internal static bool UseDotAxpy { get; set; }

    /// <summary>out (N, OC) = inp (N, C) · weight (OC, C)ᵀ + bias (OC, or empty).</summary>
    public static void Forward(Span<float> output, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int N, int C, int OC, WorkerPool? pool = null)
    {
        System.Diagnostics.Debug.Assert(output.Length >= N * OC && inp.Length >= N * C && weight.Length >= OC * C);
        if (UseDotAxpy)
        {
            fixed (float* o = output) fixed (float* x = inp) fixed (float* w = weight) fixed (float* b = bias)
                RunDotAxpy(LinearJob.Mode.Forward, o, x, w, bias.IsEmpty ? null : b, N, C, OC, pool);
            return;
        }
        fixed (float* o = output) fixed (float* x = inp) fixed (float* w = weight)
            // C = A · B with A = inp (rows C apart), B[c, o] = w[o, c] (read transposed).
            Gemm.Multiply(o, OC, x, C, 1, w, 1, C, N, OC, C, accumulate: false, pool);
        if (!bias.IsEmpty)
            for (int n = 0; n < N; n++)
            {
                var row = output.Slice(n * OC, OC);
                TensorPrimitives.Add(row, bias[..OC], row);
            }
    }

    /// <summary>dinp (N, C), dweight (OC, C) and dbias (OC, if not empty) += gradients given dout (N, OC).
    /// dinp may be empty when the input needs no gradient (it is never the case in a model; tests use it).</summary>
    public static void Backward(Span<float> dinp, Span<float> dweight, Span<float> dbias, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int N, int C, int OC, WorkerPool? pool = null)
    {
        if (UseDotAxpy)
        {
            fixed (float* dx = dinp) fixed (float* dw = dweight) fixed (float* db = dbias)
            fixed (float* dy = dout) fixed (float* x = inp) fixed (float* w = weight)
            {
                if (!dinp.IsEmpty) RunDotAxpy(LinearJob.Mode.BackwardInput, dx, dy, w, null, N, C, OC, pool);
                RunDotAxpy(LinearJob.Mode.BackwardWeight, dw, dy, x, dbias.IsEmpty ? null : db, N, C, OC, pool);
            }
            return;
        }
        fixed (float* dx = dinp) fixed (float* dw = dweight)
        fixed (float* dy = dout) fixed (float* x = inp) fixed (float* w = weight)
        {
            // forward: out[n, o] = b[o] + Σc inp[n, c] · w[o, c]
            // ⇒ dinp[n, c] += Σo dout[n, o] · w[o, c]: A = dout (N, OC), B = w (OC, C).
            if (!dinp.IsEmpty) Gemm.Multiply(dx, C, dy, OC, 1, w, C, 1, N, C, OC, accumulate: true, pool);
            // ⇒ dw[o, c] += Σn dout[n, o] · inp[n, c]: A = doutᵀ (read transposed), B = inp (N, C).
            Gemm.Multiply(dw, C, dy, 1, OC, x, C, 1, OC, C, N, accumulate: true, pool);
        }
        // ⇒ db[o] += Σn dout[n, o], row by row in n order.
        if (!dbias.IsEmpty)
            for (int n = 0; n < N; n++) TensorPrimitives.Add(dbias[..OC], dout.Slice(n * OC, OC), dbias[..OC]);
    }

    static void RunDotAxpy(LinearJob.Mode mode, float* a, float* b, float* c, float* d, int N, int C, int OC, WorkerPool? pool)
    {
        var job = t_job ??= new LinearJob();
        job.Set(mode, a, b, c, d, N, C, OC);
        int items = mode == LinearJob.Mode.BackwardInput ? N : (OC + 3) / 4;
        // Aim for ~64K multiply-adds per chunk so the pool's hand-off cost stays small.
        long perItem = mode == LinearJob.Mode.BackwardInput ? (long)OC * C : 4L * N * C;
        int grain = (int)Math.Max(1, 65536 / Math.Max(1, perItem));
        if (pool is null) job.Execute(0, items);
        else pool.For(items, grain, job);
    }

    /// <summary>Scalar reference for <see cref="Forward"/>: the plain triple loop, the oracle of the blocked kernels.</summary>
    public static void ForwardReference(Span<float> output, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int N, int C, int OC)
    {
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
            {
                float s = bias.IsEmpty ? 0f : bias[o];
                for (int c = 0; c < C; c++) s += inp[n * C + c] * weight[o * C + c];
                output[n * OC + o] = s;
            }
    }

    /// <summary>Scalar reference for <see cref="Backward"/>.</summary>
    public static void BackwardReference(Span<float> dinp, Span<float> dweight, Span<float> dbias, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int N, int C, int OC)
    {
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
            {
                float d = dout[n * OC + o];
                if (!dbias.IsEmpty) dbias[o] += d;
                for (int c = 0; c < C; c++)
                {
                    if (!dinp.IsEmpty) dinp[n * C + c] += d * weight[o * C + c];
                    dweight[o * C + c] += d * inp[n * C + c];
                }
            }
    }
}

/// <summary>The three products of a linear layer as dot / axpy loops in one parallel job (pointers are pinned by the
/// caller); FrozenLinear uses its input-gradient mode.</summary>
sealed unsafe class LinearJob : IParallelJob
{
    public enum Mode { Forward, BackwardInput, BackwardWeight }

    Mode _mode;
    float* _a, _b, _c, _d;
    int _n, _cols, _oc;

    public void Set(Mode mode, float* a, float* b, float* c, float* d, int N, int C, int OC)
    {
        _mode = mode; _a = a; _b = b; _c = c; _d = d;
        _n = N; _cols = C; _oc = OC;
    }

    public void Execute(int start, int end)
    {
        switch (_mode)
        {
            case Mode.Forward: Forward(start, end); break;
            case Mode.BackwardInput: BackwardInput(start, end); break;
            default: BackwardWeight(start, end); break;
        }
    }

    // _a = out (N, OC), _b = inp (N, C), _c = w (OC, C), _d = bias; items are blocks of 4 output rows.
    void Forward(int start, int end)
    {
        int N = _n, C = _cols, OC = _oc;
        for (int blk = start; blk < end; blk++)
        {
            int o = blk * 4, rows = Math.Min(4, OC - o);
            float* w = _c + (long)o * C;
            int n = 0;
            // Two token rows at a time share each weight load (LinearKernels.Dot2x4).
            if (rows == 4)
                for (; n + 2 <= N; n += 2)
                    LinearKernels.Dot2x4(_b + (long)n * C, _b + (long)(n + 1) * C, w, C, _a + (long)n * OC + o, _a + (long)(n + 1) * OC + o);
            for (; n < N; n++)
            {
                float* x = _b + (long)n * C, y = _a + (long)n * OC + o;
                if (rows == 4) LinearKernels.Dot4(x, w, C, y);
                else for (int r = 0; r < rows; r++) y[r] = LinearKernels.Dot(x, w + (long)r * C, C);
            }
            if (_d != null)
                for (n = 0; n < N; n++)
                    for (int r = 0; r < rows; r++) _a[(long)n * OC + o + r] += _d[o + r];
        }
    }

    // _a = dinp (N, C), _b = dout (N, OC), _c = w (OC, C); items are token rows.
    void BackwardInput(int start, int end)
    {
        int C = _cols, OC = _oc;
        int n = start;
        // Two token rows at a time share each weight-row load (LinearKernels.Axpy4x2).
        for (; n + 2 <= end; n += 2)
        {
            float* dx0 = _a + (long)n * C, dy0 = _b + (long)n * OC;
            int o = 0;
            for (; o + 4 <= OC; o += 4) LinearKernels.Axpy4x2(dx0, dx0 + C, dy0 + o, dy0 + OC + o, _c + (long)o * C, C, C);
            for (; o < OC; o++)
            {
                LinearKernels.Axpy(dx0, dy0[o], _c + (long)o * C, C);
                LinearKernels.Axpy(dx0 + C, dy0[OC + o], _c + (long)o * C, C);
            }
        }
        for (; n < end; n++)
        {
            float* dx = _a + (long)n * C, dy = _b + (long)n * OC;
            int o = 0;
            for (; o + 4 <= OC; o += 4) LinearKernels.Axpy4(dx, dy[o], dy[o + 1], dy[o + 2], dy[o + 3], _c + (long)o * C, C, C);
            for (; o < OC; o++) LinearKernels.Axpy(dx, dy[o], _c + (long)o * C, C);
        }
    }

    // _a = dw (OC, C), _b = dout (N, OC), _c = inp (N, C), _d = dbias; items are blocks of 4 output rows.
    void BackwardWeight(int start, int end)
    {
        int N = _n, C = _cols, OC = _oc;
        float* coef = stackalloc float[8];
        for (int blk = start; blk < end; blk++)
        {
            int o = blk * 4, oEnd = Math.Min(OC, blk * 4 + 4);
            // Two weight rows at a time share each input-row load (LinearKernels.Axpy4x2); the four
            // coefficients of each are a strided column of dout, gathered first.
            for (; o + 2 <= oEnd; o += 2)
            {
                float* dw0 = _a + (long)o * C;
                int n = 0;
                for (; n + 4 <= N; n += 4)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        coef[j] = _b[(long)(n + j) * OC + o];
                        coef[4 + j] = _b[(long)(n + j) * OC + o + 1];
                    }
                    LinearKernels.Axpy4x2(dw0, dw0 + C, coef, coef + 4, _c + (long)n * C, C, C);
                }
                for (; n < N; n++)
                {
                    LinearKernels.Axpy(dw0, _b[(long)n * OC + o], _c + (long)n * C, C);
                    LinearKernels.Axpy(dw0 + C, _b[(long)n * OC + o + 1], _c + (long)n * C, C);
                }
            }
            for (; o < oEnd; o++)
            {
                float* dw = _a + (long)o * C;
                int n = 0;
                for (; n + 4 <= N; n += 4)
                    LinearKernels.Axpy4(dw, _b[(long)n * OC + o], _b[(long)(n + 1) * OC + o], _b[(long)(n + 2) * OC + o],
                        _b[(long)(n + 3) * OC + o], _c + (long)n * C, C, C);
                for (; n < N; n++) LinearKernels.Axpy(dw, _b[(long)n * OC + o], _c + (long)n * C, C);
            }
            if (_d != null)
                for (o = blk * 4; o < oEnd; o++)
                {
                    float s = 0;
                    for (int n = 0; n < N; n++) s += _b[(long)n * OC + o];
                    _d[o] += s;
                }
        }
    }
}
