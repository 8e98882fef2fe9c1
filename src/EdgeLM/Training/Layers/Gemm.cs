// A blocked, packed F32 matrix multiply for the training products: C = A·B or C += A·B where A and B
// may each be read transposed (any row and column stride), so one routine serves forward y = x·Wᵀ,
// dx += dy·W and dW += dyᵀ·x. Not a general BLAS: F32 only, pointers pinned by the caller, no alpha
// or beta beyond "store" or "accumulate".
// Layout (after GotoBLAS / BLIS): B is first packed, once per call, into panels of NR columns
// (each panel K rows of NR contiguous floats, zero-padded), each panel by one worker; this is where
// Wᵀ is transposed, once, instead of once per tile. A is read in place: a micro-tile broadcasts one A
// value per row and k, which costs one scalar load whatever A's strides are. The output is then cut
// into tiles of MC × NC that the WorkerPool's threads claim one by one; a tile walks k in blocks of KC (the KC × NR
// slice of a panel stays in L1 while 16 micro-rows use it) and writes its outputs alone.
// Determinism: every output element is summed by one worker, over k in the same blocks and order,
// whatever the number of threads or the hand-out order, so results are bit-identical across runs
// and thread counts (for one tier).
// Legend: C (M, N) rows ldc apart; A[m, k] = a[m·aRow + k·aCol]; B[k, n] = b[k·bRow + n·bCol].
using System.Runtime.Intrinsics;
using EdgeLM.Kernels;

namespace EdgeLM.Training.Layers;

public static unsafe class Gemm
{
    [ThreadStatic] static GemmJob? t_job;

    /// <summary>The widest tier this process accelerates (AVX-512, AVX2, else the plain loop).</summary>
    public static GemmTier BestTier { get; } =
        Vector512.IsHardwareAccelerated ? GemmTier.Vector512 :
        Vector256.IsHardwareAccelerated ? GemmTier.Vector256 : GemmTier.Scalar;

    /// <summary>Whether <paramref name="tier"/> runs on vector hardware here (the scalar tier always does).</summary>
    public static bool IsAccelerated(GemmTier tier) => tier switch
    {
        GemmTier.Vector512 => Vector512.IsHardwareAccelerated,
        GemmTier.Vector256 => Vector256.IsHardwareAccelerated,
        _ => true,
    };

    /// <summary>C (M, N) = (accumulate ? C : 0) + A (M, K) · B (K, N), on <paramref name="pool"/> if given.</summary>
    public static void Multiply(float* c, long ldc, float* a, long aRow, long aCol, float* b, long bRow, long bCol,
        int M, int N, int K, bool accumulate, WorkerPool? pool) =>
        Multiply(c, ldc, a, aRow, aCol, b, bRow, bCol, M, N, K, accumulate, pool, BestTier);

    /// <summary><see cref="Multiply(float*, long, float*, long, long, float*, long, long, int, int, int, bool, WorkerPool?)"/>
    /// with a chosen tier (tests compare the tiers with the plain loop).</summary>
    public static void Multiply(float* c, long ldc, float* a, long aRow, long aCol, float* b, long bRow, long bCol,
        int M, int N, int K, bool accumulate, WorkerPool? pool, GemmTier tier) =>
        Run(tier, c, ldc, a, aRow, aCol, b, null, bRow, bCol, M, N, K, accumulate, pool);

    /// <summary>As <see cref="Multiply(float*, long, float*, long, long, float*, long, long, int, int, int, bool, WorkerPool?)"/>
    /// with B stored as bfloat16 (weights kept in BF16 beside F32 masters): B is widened to F32 while it is
    /// packed, so the micro-kernel and every result's summation order are the F32 path's on the widened values.</summary>
    public static void MultiplyBf16B(float* c, long ldc, float* a, long aRow, long aCol, ushort* b, long bRow, long bCol,
        int M, int N, int K, bool accumulate, WorkerPool? pool) =>
        Run(BestTier, c, ldc, a, aRow, aCol, null, b, bRow, bCol, M, N, K, accumulate, pool);

    // B is b (F32) or b16 (bfloat16), the other null.
    static void Run(GemmTier tier, float* c, long ldc, float* a, long aRow, long aCol, float* b, ushort* b16, long bRow, long bCol,
        int M, int N, int K, bool accumulate, WorkerPool? pool)
    {
        if (M <= 0 || N <= 0) return;
        if (K <= 0)
        {
            if (!accumulate)
                for (int m = 0; m < M; m++) new Span<float>(c + m * ldc, N).Clear();
            return;
        }
        var job = t_job ??= new GemmJob();
        job.Set(tier, c, ldc, a, aRow, aCol, b, b16, bRow, bCol, M, N, K, accumulate);
        // Each phase is one item per thread; the items then claim panels / tiles one at a time from a
        // shared counter, so a worker that falls behind (another process on its core) is left at most
        // one tile, not one of the pool's coarser chunks.
        for (int phase = 0; phase < 2; phase++)
        {
            job.Begin(packing: phase == 0);
            if (pool is null) job.Execute(0, 1);
            else pool.For(pool.ThreadCount, 1, job);
        }
    }

    /// <summary>The plain triple loop over the same operands, in k order: the oracle of the tiers.</summary>
    public static void MultiplyReference(float* c, long ldc, float* a, long aRow, long aCol, float* b, long bRow, long bCol,
        int M, int N, int K, bool accumulate)
    {
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
            {
                float s = 0;
                for (int k = 0; k < K; k++) s += a[m * aRow + k * aCol] * b[k * bRow + n * bCol];
                c[m * ldc + n] = (accumulate ? c[m * ldc + n] : 0f) + s;
            }
    }
}

/// <summary>Both phases of one <see cref="Gemm.Multiply(float*, long, float*, long, long, float*, long, long, int, int, int, bool, WorkerPool?, GemmTier)"/>:
/// packing B's panels, then the output tiles.</summary>
sealed unsafe class GemmJob : IParallelJob
{
    /// <summary>Micro-rows per tile (MC = 16 × 6 = 96 rows) and panels per tile (NC = 4 × NR columns):
    /// tiles of a few million multiply-adds, enough of them at training sizes to balance two workers.</summary>
    const int TileMicroRows = 16, TilePanels = 4;

    /// <summary>Edge scratch of each worker: a zero-padded copy of A's last rows and one output micro-tile.</summary>
    [ThreadStatic] static float[]? t_scratch;

    float[] _packed = [];
    GemmTier _tier;
    float* _c, _a, _b;
    ushort* _b16; // when set, B is bfloat16 and _b is unused
    long _ldc, _aRow, _aCol, _bRow, _bCol;
    int _m, _n, _k, _nr, _kc, _rowBlocks, _colBlocks;
    bool _accumulate;

    bool _packing;
    int _next;

    public int Panels { get; private set; }
    public int Tiles => _rowBlocks * _colBlocks;

    public void Begin(bool packing)
    {
        _packing = packing;
        Volatile.Write(ref _next, 0);
    }

    public void Set(GemmTier tier, float* c, long ldc, float* a, long aRow, long aCol, float* b, ushort* b16, long bRow, long bCol,
        int M, int N, int K, bool accumulate)
    {
        _tier = tier; _c = c; _a = a; _b = b; _b16 = b16;
        (_ldc, _aRow, _aCol, _bRow, _bCol) = (ldc, aRow, aCol, bRow, bCol);
        (_m, _n, _k, _accumulate) = (M, N, K, accumulate);
        _nr = GemmKernels.NR(tier);
        // KC × NR × 4 bytes = 16 KB: half of L1, so a panel slice survives the A values streaming past it.
        _kc = 16384 / (_nr * sizeof(float));
        Panels = (N + _nr - 1) / _nr;
        _rowBlocks = (M + GemmKernels.MR * TileMicroRows - 1) / (GemmKernels.MR * TileMicroRows);
        _colBlocks = (Panels + TilePanels - 1) / TilePanels;
        long need = (long)Panels * _nr * K;
        // Pinned, and grown only: after the first step of a run no call allocates.
        if (_packed.Length < need) _packed = GC.AllocateUninitializedArray<float>(checked((int)need), pinned: true);
    }

    // Items are threads; the work units (panels or tiles) are claimed here. Which worker runs a unit
    // does not change its result: each unit writes its own outputs in a fixed order.
    public void Execute(int start, int end)
    {
        int units = _packing ? Panels : Tiles;
        fixed (float* packed = _packed)
            for (int u = Interlocked.Increment(ref _next) - 1; u < units; u = Interlocked.Increment(ref _next) - 1)
            {
                if (_packing) Pack(u, packed + (long)u * _k * _nr);
                else RunTile(u / _colBlocks, u % _colBlocks, packed);
            }
    }

    // dst (K, NR) = B[:, n0 .. n0 + NR), zero beyond N.
    void Pack(int panel, float* dst)
    {
        int NR = _nr, K = _k, n0 = panel * NR, cols = Math.Min(NR, _n - n0);
        if (cols < NR) new Span<float>(dst, K * NR).Clear();
        if (_b16 is not null)
        {
            // bfloat16 is the top half of a float: widening is a shift, exact. Read along memory.
            if (_bRow == 1)
                for (int j = 0; j < cols; j++)
                {
                    ushort* src = _b16 + (n0 + j) * _bCol;
                    for (int k = 0; k < K; k++) dst[k * NR + j] = BitConverter.Int32BitsToSingle(src[k] << 16);
                }
            else
                for (int k = 0; k < K; k++)
                    for (int j = 0; j < cols; j++)
                        dst[k * NR + j] = BitConverter.Int32BitsToSingle(_b16[k * _bRow + (n0 + j) * _bCol] << 16);
        }
        else if (_bCol == 1)
        {
            for (int k = 0; k < K; k++)
                new ReadOnlySpan<float>(_b + k * _bRow + n0, cols).CopyTo(new Span<float>(dst + k * NR, cols));
        }
        else if (_bRow == 1)
        {
            // B is a transposed row-major matrix (Wᵀ): read each source row once, write a column of the panel.
            for (int j = 0; j < cols; j++)
            {
                float* src = _b + (n0 + j) * _bCol;
                for (int k = 0; k < K; k++) dst[k * NR + j] = src[k];
            }
        }
        else
        {
            for (int k = 0; k < K; k++)
                for (int j = 0; j < cols; j++) dst[k * NR + j] = _b[k * _bRow + (n0 + j) * _bCol];
        }
    }

    void RunTile(int rowBlock, int colBlock, float* packed)
    {
        const int MR = GemmKernels.MR;
        int NR = _nr, K = _k;
        int m0 = rowBlock * MR * TileMicroRows, mEnd = Math.Min(_m, m0 + MR * TileMicroRows);
        int p0 = colBlock * TilePanels, pEnd = Math.Min(Panels, p0 + TilePanels);
        for (int k0 = 0; k0 < K; k0 += _kc)
        {
            int kc = Math.Min(_kc, K - k0);
            bool add = _accumulate || k0 > 0;
            for (int p = p0; p < pEnd; p++)
            {
                float* panel = packed + ((long)p * K + k0) * NR;
                int n0 = p * NR, cols = Math.Min(NR, _n - n0);
                for (int i0 = m0; i0 < mEnd; i0 += MR)
                {
                    float* a = _a + i0 * _aRow + k0 * _aCol;
                    float* c = _c + i0 * _ldc + n0;
                    int rows = Math.Min(MR, mEnd - i0);
                    if (rows == MR && cols == NR) GemmKernels.Tile(_tier, a, _aRow, _aCol, panel, kc, c, _ldc, add);
                    else EdgeTile(a, panel, kc, c, rows, cols, add);
                }
            }
        }
    }

    // A partial micro-tile: A's missing rows are zeros in a copy, the full tile goes to scratch, and
    // only the valid part reaches C, with the same store-or-add as a full tile.
    void EdgeTile(float* a, float* panel, int kc, float* c, int rows, int cols, bool add)
    {
        const int MR = GemmKernels.MR;
        int NR = _nr;
        var scratch = t_scratch ??= GC.AllocateUninitializedArray<float>(MR * 512 + MR * 32, pinned: true);
        fixed (float* s = scratch)
        {
            float* aCopy = s, tile = s + MR * 512;
            new Span<float>(aCopy, MR * kc).Clear();
            for (int i = 0; i < rows; i++)
                for (int k = 0; k < kc; k++) aCopy[i * kc + k] = a[i * _aRow + k * _aCol];
            GemmKernels.Tile(_tier, aCopy, kc, 1, panel, kc, tile, NR, false);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    c[i * _ldc + j] = (add ? c[i * _ldc + j] : 0f) + tile[i * NR + j];
        }
    }
}
