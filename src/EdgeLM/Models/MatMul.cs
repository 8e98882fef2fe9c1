// y = x · Wᵀ for a micro-batch: activations (T, Cols) are quantized once to the weight type's
// vec_dot type (as llama.cpp does), then the rows of W are split across the worker pool. Each
// weight row is read once for all T activation rows, so prompt processing streams the weights
// once per micro-batch rather than once per token (QuantKernels.MatMulRows). A decode product (T = 1)
// over a repacked matrix (WeightMatrix.Repacked) is split by its sixteen-row groups instead, so no
// group is shared by two threads; a prompt over a repacked matrix reads its rows back
// from the copy (WeightMatrix.PromptsReadRepacked). Products of one input (q, k, v; gate, up) can go to
// the pool as one job: a decode token then waits for the pool once instead of three times.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EdgeLM.Kernels;
using EdgeLM.Quantization;

namespace EdgeLM.Models;

public sealed unsafe class MatMul : IParallelJob
{
    /// <summary>One product of a job: its units (rows, repacked groups or row tiles) follow the previous part's.</summary>
    struct Part
    {
        public WeightMatrix? W;
        public float* Y;
        public int Unit; // rows per pool item (see Set)
        public bool Repacked; // a decode product over DecodeRepack's sixteen-row groups
        public int Units;
        public int* Prepared; // a prompt's activations prepared once for W's kernel (QuantDots.PrepareGemm), or null
    }

    readonly Part[] _parts = new Part[3];
    readonly byte[]?[] _prepared = new byte[3][];
    readonly PrepareRows _prepare = new();
    int _count;
    byte* _xq;
    long _xqStride;
    int _t;

    /// <summary>Rows per pool item for a micro-batch: a multiple of every blocked kernel's row tile
    /// (Block32GemmLanes 32, KQuantLanes 16, Block32Gemm256 2).</summary>
    const int PromptRowUnit = 32;

    /// <summary>Quantizes x (T, W.Cols) into the state's activation scratch for W's type; rows split across the
    /// pool for a prompt (each row by the same function as on one thread, so the bytes are the same).</summary>
    public static void QuantizeActivations(DecoderState s, WeightMatrix w, ReadOnlySpan<float> x, int T)
    {
        var vt = QuantKernels.VecDotType(w.Type);
        int rowBytes = (int)Tensors.GgmlTypes.RowBytes(vt, w.Cols);
        // Below ~16K values per thread, handing rows to another thread costs more than quantizing them.
        int grain = Math.Max(1, 16384 / Math.Max(1, w.Cols));
        if (T <= grain || s.Pool.ThreadCount == 1)
        {
            for (int t = 0; t < T; t++)
                QuantKernels.Quantize(vt, x.Slice(t * w.Cols, w.Cols), s.Quantized.AsSpan((int)(t * s.ActivationRowBytes), rowBytes));
            return;
        }
        fixed (float* px = x)
        fixed (byte* pq = s.Quantized)
        {
            // One job object per dispatching thread: the pool finishes the job before For returns.
            var job = t_quantize ??= new QuantizeRows();
            (job.Type, job.Cols, job.DstStride, job.RowBytes) = (vt, w.Cols, s.ActivationRowBytes, rowBytes);
            job.X = px;
            job.Dst = pq;
            s.Pool.For(T, grain, job);
            job.X = null;
        }
    }

    [ThreadStatic] static QuantizeRows? t_quantize;

    sealed class QuantizeRows : IParallelJob
    {
        public Tensors.GgmlType Type;
        public float* X;
        public int Cols;
        public byte* Dst;
        public long DstStride;
        public int RowBytes;

        public void Execute(int start, int end)
        {
            for (int t = start; t < end; t++)
                QuantKernels.Quantize(Type, new ReadOnlySpan<float>(X + (long)t * Cols, Cols), new Span<byte>(Dst + t * DstStride, RowBytes));
        }
    }

    /// <summary>y (T, W.Rows) = x (T, W.Cols) · Wᵀ, with x already quantized by <see cref="QuantizeActivations"/>.</summary>
    public void Run(DecoderState s, WeightMatrix w, Span<float> y, int T)
    {
        fixed (float* py = y)
        {
            Set(0, w, py, T);
            Dispatch(s, 1, T);
        }
    }

    /// <summary>Two products of the same input (the FFN's gate and up) as one pool job; the matrices must take
    /// the same activation type and width, quantized once by <see cref="QuantizeActivations"/>.</summary>
    public void Run(DecoderState s, WeightMatrix w1, Span<float> y1, WeightMatrix w2, Span<float> y2, int T)
    {
        fixed (float* p1 = y1, p2 = y2)
        {
            Set(0, w1, p1, T);
            Set(1, w2, p2, T);
            Dispatch(s, 2, T);
        }
    }

    /// <summary>Three products of the same input (attention's q, k and v) as one pool job, as the two-product Run.</summary>
    public void Run(DecoderState s, WeightMatrix w1, Span<float> y1, WeightMatrix w2, Span<float> y2, WeightMatrix w3, Span<float> y3, int T)
    {
        fixed (float* p1 = y1, p2 = y2, p3 = y3)
        {
            Set(0, w1, p1, T);
            Set(1, w2, p2, T);
            Set(2, w3, p3, T);
            Dispatch(s, 3, T);
        }
    }

    void Set(int i, WeightMatrix w, float* y, int T)
    {
        // The pool hands out units of rows: for a single token one row, or one sixteen-row group of a
        // repacked matrix; for a micro-batch a whole row tile of the blocked kernels (32 rows), since a
        // chunk ending inside a tile pads it with repeated rows (896 rows in chunks of 112 cost 12% more
        // tile work on two threads).
        bool repacked = T == 1 && w.Repacked != null;
        int unit = T > 1 ? PromptRowUnit : repacked ? DecodeRepack.GroupRows : 1;
        _parts[i] = new Part { W = w, Y = y, Unit = unit, Repacked = repacked, Units = (w.Rows + unit - 1) / unit };
    }

    void Dispatch(DecoderState s, int count, int T)
    {
        fixed (byte* pq = s.Quantized)
        {
            _xq = pq;
            _xqStride = s.ActivationRowBytes;
            _t = T;
            _count = count;
            int units = 0, maxUnit = 1;
            for (int i = 0; i < count; i++)
            {
                units += _parts[i].Units;
                maxUnit = Math.Max(maxUnit, _parts[i].Unit);
            }
            if (T >= Block32GemmLanes.MinActivations)
                for (int i = 0; i < count; i++) Prepare(s, i, pq, T);
            // At least ~64K multiply-adds per chunk: below that, handing work to another thread costs more than it saves.
            int grain = Math.Max(16, 65536 / Math.Max(1, _parts[0].W!.Cols * T));
            // A prompt's unit is a whole row tile against every activation (~0.3 ms for 32 rows of 4,864 at T = 256),
            // so chunks of a unit or two: in the pool's default chunks, 28 units (896 rows) go 15 : 13 to two threads.
            s.Pool.For(units, Math.Max(1, grain / maxUnit), this, T > 1 ? PromptChunksPerThread : WorkerPool.ChunksPerThread);
            for (int i = 0; i < count; i++) _parts[i] = default;
        }
    }

    /// <summary>Chunks per thread for a prompt's products (see Dispatch).</summary>
    const int PromptChunksPerThread = 16;

    /// <summary>Part i's activations prepared for its kernel, once for the product rather than once per chunk
    /// (Block32GemmLanes' per-block scale and sum: 70 us for 256 activations of 4,864, a fifth of a row tile's
    /// work), split across the pool by activation; a part of the same type and width as an earlier one shares its.</summary>
    void Prepare(DecoderState s, int i, byte* xq, int T)
    {
        var w = _parts[i].W!;
        if (QuantDots.ResolvePreparedGemm(w.Type, Simd.Best) == null) return;
        for (int j = 0; j < i; j++)
            if (_parts[j].Prepared != null && _parts[j].W!.Type == w.Type && _parts[j].W!.Cols == w.Cols)
            {
                _parts[i].Prepared = _parts[j].Prepared;
                return;
            }
        long need = Block32GemmLanes.PreparedBytes(T, w.Cols);
        if (_prepared[i] is not { } buffer || buffer.LongLength < need)
            _prepared[i] = buffer = GC.AllocateUninitializedArray<byte>(checked((int)need), pinned: true);
        var dst = (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer)); // pinned at allocation
        var job = _prepare;
        (job.Type, job.Stride, job.Cols) = (w.Type, _xqStride, w.Cols);
        job.X = xq;
        job.Dst = dst;
        s.Pool.For(T, Math.Max(1, 16384 / w.Cols), job);
        job.X = null;
        _parts[i].Prepared = dst;
    }

    sealed class PrepareRows : IParallelJob
    {
        public Tensors.GgmlType Type;
        public byte* X;
        public long Stride;
        public int Cols;
        public int* Dst;

        public void Execute(int start, int end) =>
            QuantDots.PrepareGemm(Type, X + start * Stride, Stride, end - start, Cols,
                Dst + start * Block32GemmLanes.PreparedBytes(1, Cols) / sizeof(int));
    }

    /// <summary>Quantize and multiply in one call.</summary>
    public void Run(DecoderState s, WeightMatrix w, ReadOnlySpan<float> x, Span<float> y, int T)
    {
        QuantizeActivations(s, w, x, T);
        Run(s, w, y, T);
    }

    /// <summary>Units [start, end) of the job: each part's share, in its own units (rows, repacked groups or
    /// row tiles: see Set).</summary>
    public void Execute(int start, int end)
    {
        for (int i = 0, first = 0; i < _count && first < end; first += _parts[i].Units, i++)
        {
            int lo = Math.Max(start, first) - first, hi = Math.Min(end, first + _parts[i].Units) - first;
            if (lo < hi) Execute(in _parts[i], lo, hi);
        }
    }

    void Execute(in Part p, int start, int end)
    {
        var w = p.W!;
        int rows = w.Rows, cols = w.Cols;
        (start, end) = (start * p.Unit, Math.Min(rows, end * p.Unit));
        var xRowLen = (int)_xqStride;
        float* y = p.Y;
        if (p.Repacked)
        {
            DecodeRepack.Rows(w.Type, w.Repacked, rows, cols, start, end, _xq, y + start);
            return;
        }
        if (_t == 1)
        {
            QuantKernels.VecDotRows(w.Type, w.Data, w.RowBytes, start, end,
                new ReadOnlySpan<byte>(_xq, xRowLen), new Span<float>(y + start, end - start), cols);
            return;
        }
        // Several activation rows: the row range against all T of them in one call, written straight
        // into y (T, Rows). The kernel walks it in tiles of rows x activations (Block32GemmLanes where the
        // type has one), so each weight row is read from memory once per micro-batch.
        var acts = new ReadOnlySpan<byte>(_xq, checked((int)(_xqStride * _t)));
        var all = new Span<float>(y, checked(_t * rows));
        if (!w.PromptsReadRepacked)
        {
            QuantKernels.MatMulRows(w.Type, w.Data, w.RowBytes, start, end, acts, xRowLen, _t, all, rows, cols, Simd.Best, p.Prepared);
            return;
        }
        // The rows back from the repacked copy, a few row tiles at a time into this thread's scratch (the
        // mapped pages were dropped at load), then the same kernel over the same bytes: the same outputs.
        long rb = w.RowBytes;
        int need = checked((int)(UnpackRows * rb));
        var buffer = t_rows is { } b && b.Length >= need ? b : (t_rows = GC.AllocateUninitializedArray<byte>(need, pinned: true));
        fixed (byte* rowsAt = buffer)
            for (int r0 = start; r0 < end; r0 += UnpackRows)
            {
                int r1 = Math.Min(end, r0 + UnpackRows);
                DecodeRepack.UnpackRows(w.Type, w.Repacked, rows, cols, r0, r1, rowsAt);
                QuantKernels.MatMulRows(w.Type, rowsAt - r0 * rb, rb, r0, r1, acts, xRowLen, _t, all, rows, cols, Simd.Best, p.Prepared);
            }
    }

    /// <summary>Rows a prompt product unpacks from a repacked copy per pass: 8 row tiles per kernel call (the
    /// kernel prepares the activations once per call), a per-thread scratch of 256 rows (2.2 MB for Q8_0
    /// rows of 8,192).</summary>
    const int UnpackRows = 8 * PromptRowUnit;

    [ThreadStatic] static byte[]? t_rows;
}
