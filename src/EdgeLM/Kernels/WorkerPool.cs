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
    int _next;
    int _pending;
    long _generation;
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

    /// <summary>Runs <paramref name="job"/> over [0, total) in chunks of at least <paramref name="grain"/> items.</summary>
    public void For(int total, int grain, IParallelJob job)
    {
        if (total <= 0) return;
        grain = Math.Max(1, grain);
        if (_threads.Length == 0 || total <= grain)
        {
            job.Execute(0, total);
            return;
        }
        _job = job;
        _total = total;
        // Several chunks per thread balance uneven progress (another process on a core) at little cost.
        _grain = Math.Max(grain, (total + ThreadCount * 4 - 1) / (ThreadCount * 4));
        _next = 0;
        _pending = _threads.Length;
        Interlocked.Increment(ref _generation);
        for (int i = 0; i < _threads.Length; i++)
            if (Interlocked.Exchange(ref _sleeping[i], 0) == 1) _wake[i].Release();
        RunChunks();
        var spin = new SpinWait();
        while (Volatile.Read(ref _pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
        _job = null;
    }

    void RunChunks()
    {
        var job = _job!;
        int total = _total, grain = _grain;
        while (true)
        {
            int start = Interlocked.Add(ref _next, grain) - grain;
            if (start >= total) return;
            job.Execute(start, Math.Min(total, start + grain));
        }
    }

    void WorkerLoop(int id)
    {
        long seen = 0;
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen)
            {
                if (_disposed) return;
                if (++spins < SpinIterations)
                {
                    Thread.SpinWait(8);
                    continue;
                }
                // Going to sleep: announce it, then re-check so a job posted meanwhile is not missed.
                Volatile.Write(ref _sleeping[id], 1);
                if (Volatile.Read(ref _generation) != seen || _disposed)
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
            seen = Volatile.Read(ref _generation);
            RunChunks();
            Interlocked.Decrement(ref _pending);
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
