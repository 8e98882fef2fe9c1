// A persistent pool of worker threads for the engine's data-parallel loops. A matrix-vector product
// in decode takes tens of microseconds, so per-operation task scheduling (Parallel.For) would cost
// as much as the work: here the workers stay alive, spin briefly waiting for the next job and only
// then sleep, and a job is handed over by bumping a generation counter. The calling thread works too.
// Not reentrant: one job at a time, from one thread (the session that owns the pool).
namespace EdgeLM.Kernels;

/// <summary>A unit of parallel work: processes items [start, end).</summary>
public interface IParallelJob
{
    void Execute(int start, int end);
}

public sealed class WorkerPool : IDisposable
{
    const int SpinIterations = 50_000;

    readonly Thread[] _threads;
    readonly SemaphoreSlim[] _wake;
    readonly int[] _sleeping;
    IParallelJob? _job;
    int _total;
    int _grain;
    int _chunks;
    int _completed;
    // Generation in the high 32 bits, next unclaimed chunk in the low 32. Claiming a chunk is a
    // compare-exchange on both, so a worker that wakes late can never take a chunk of a job that
    // has already finished: the dispatcher waits only for chunks, never for a particular thread.
    long _state;
    volatile bool _disposed;

    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), "at least one thread");
        ThreadCount = threads;
        _threads = new Thread[threads - 1];
        _wake = new SemaphoreSlim[threads - 1];
        _sleeping = new int[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            int id = i;
            _threads[i] = new Thread(() => WorkerLoop(id)) { IsBackground = true, Name = $"edgelm-worker-{i + 1}" };
            _threads[i].Start();
        }
    }

    public int ThreadCount { get; }

    /// <summary>Chunks per thread by default: several balance uneven progress (another process on a core) at
    /// little cost, few keep the claims (one contended compare-exchange each) rare for small items.</summary>
    public const int ChunksPerThread = 4;

    /// <summary>Runs <paramref name="job"/> over [0, total) in chunks of at least <paramref name="grain"/> items,
    /// and of at least total / (threads x <paramref name="chunksPerThread"/>): more chunks per thread for jobs
    /// of few, long items, whose last chunk would otherwise leave a thread waiting.</summary>
    public void For(int total, int grain, IParallelJob job, int chunksPerThread = ChunksPerThread)
    {
        if (total <= 0) return;
        grain = Math.Max(1, grain);
        if (_threads.Length == 0 || total <= grain)
        {
            job.Execute(0, total);
            return;
        }
        // Rounded down: 28 items on two threads make chunks of 28 / 8 = 3, ten chunks with a last one of 1.
        grain = Math.Max(grain, total / (ThreadCount * Math.Max(1, chunksPerThread)));
        _job = job;
        _total = total;
        _grain = grain;
        _chunks = (total + grain - 1) / grain;
        Volatile.Write(ref _completed, 0);
        long generation = (Volatile.Read(ref _state) >> 32) + 1;
        Volatile.Write(ref _state, generation << 32);
        for (int i = 0; i < _threads.Length; i++)
            if (Interlocked.Exchange(ref _sleeping[i], 0) == 1) _wake[i].Release();
        RunChunks();
        var spin = new SpinWait();
        while (Volatile.Read(ref _completed) != _chunks) spin.SpinOnce(sleep1Threshold: -1);
        _job = null;
    }

    /// <summary>Claims and runs chunks of the current job until none is left.</summary>
    void RunChunks()
    {
        while (true)
        {
            long s = Volatile.Read(ref _state);
            var job = _job;
            int chunk = (int)s, chunks = _chunks, total = _total, grain = _grain;
            if (job is null || chunk >= chunks) return;
            if (Interlocked.CompareExchange(ref _state, s + 1, s) != s) continue;
            int start = chunk * grain;
            job.Execute(start, Math.Min(total, start + grain));
            Interlocked.Increment(ref _completed);
        }
    }

    void WorkerLoop(int id)
    {
        long seen = 0;
        while (true)
        {
            int spins = 0;
            while ((Volatile.Read(ref _state) >> 32) == seen)
            {
                if (_disposed) return;
                if (++spins < SpinIterations)
                {
                    Thread.SpinWait(8);
                    continue;
                }
                // Going to sleep: announce it, then re-check so a job posted meanwhile is not missed.
                Volatile.Write(ref _sleeping[id], 1);
                if ((Volatile.Read(ref _state) >> 32) != seen || _disposed)
                {
                    // The dispatcher may already have claimed our flag and released the semaphore.
                    if (Interlocked.Exchange(ref _sleeping[id], 0) == 0) _wake[id].Wait();
                }
                else
                {
                    _wake[id].Wait();
                }
                spins = 0;
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _state) >> 32;
            RunChunks();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        for (int i = 0; i < _threads.Length; i++)
            if (Interlocked.Exchange(ref _sleeping[i], 0) == 1) _wake[i].Release();
        foreach (var t in _threads) t.Join();
        foreach (var w in _wake) w.Dispose();
    }
}
