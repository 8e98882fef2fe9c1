using EdgeLM.Kernels;

namespace EdgeLM.Tests.Kernels;

public class WorkerPoolTests
{
    sealed class Mark(int[] hits) : IParallelJob
    {
        public void Execute(int start, int end)
        {
            for (int i = start; i < end; i++) Interlocked.Increment(ref hits[i]);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_item_runs_exactly_once_across_many_jobs(int threads)
    {
        using var pool = new WorkerPool(threads);
        var rng = new Random(threads);
        for (int job = 0; job < 2000; job++)
        {
            int n = rng.Next(0, 300);
            var hits = new int[n];
            pool.For(n, rng.Next(1, 8), new Mark(hits));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    sealed class Chunks : IParallelJob
    {
        public readonly System.Collections.Concurrent.ConcurrentBag<int> Sizes = [];
        public void Execute(int start, int end) => Sizes.Add(end - start);
    }

    [Theory]
    [InlineData(WorkerPool.ChunksPerThread, 3)] // 28 items / (2 threads x 4): chunks of 3
    [InlineData(16, 1)]                         // a job of few long items: one item a chunk
    public void Chunks_per_thread_set_the_chunk_size(int chunksPerThread, int size)
    {
        using var pool = new WorkerPool(2);
        var job = new Chunks();
        pool.For(28, 1, job, chunksPerThread);
        Assert.Equal(28, job.Sizes.Sum());
        Assert.Equal(size, job.Sizes.Max());
        Assert.Equal((28 + size - 1) / size, job.Sizes.Count);
    }

    [Fact]
    public void Workers_wake_after_sleeping()
    {
        using var pool = new WorkerPool(2);
        var hits = new int[100];
        Thread.Sleep(300); // long enough for the worker to stop spinning and block
        pool.For(100, 1, new Mark(hits));
        Assert.All(hits, h => Assert.Equal(1, h));
    }
}
