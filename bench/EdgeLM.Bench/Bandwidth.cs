// Memory read bandwidth of this machine: a streaming sum over a buffer far larger than any cache
// (1 GiB by default), split evenly across N threads, widest vectors available, four independent
// accumulators so that the adds never limit the loads. The best of several passes is reported,
// as is usual for a bandwidth ceiling (noise from other processes only ever slows a pass down).
// Not a full STREAM suite: read-only, which is what a decode step does with the weights. On Linux the
// buffer is advised for transparent huge pages, as EdgeLM's weight copies are (WeightArena): with 4 KiB
// pages one core here streams about a fifth slower, which would put the ceiling below what decode reaches.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeLM.Bench;

public static unsafe partial class Bandwidth
{
    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(void* addr, nuint length, int advice);

    /// <summary>Bytes per second read by <paramref name="threads"/> threads, best of <paramref name="passes"/>.</summary>
    public static double Measure(int threads, long bytes = 1L << 30, int passes = 5)
    {
        long floats = bytes / sizeof(float) / 64 * 64;
        var buffer = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 2 << 20);
        try
        {
            if (OperatingSystem.IsLinux())
            {
                try { madvise(buffer, (nuint)(floats * sizeof(float)), 14); } // MADV_HUGEPAGE; ordinary pages if refused
                catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
            }
            for (long i = 0; i < floats; i += 1 << 20)
                new Span<float>(buffer + i, (int)Math.Min(1 << 20, floats - i)).Fill(1f);
            double best = 0;
            float sink = 0;
            for (int p = 0; p < passes; p++)
            {
                var sums = new float[threads];
                var sw = Stopwatch.StartNew();
                var workers = new Thread[threads];
                long part = floats / threads / 64 * 64;
                for (int t = 0; t < threads; t++)
                {
                    int id = t;
                    long start = id * part, count = id == threads - 1 ? floats - start : part;
                    workers[t] = new Thread(() => sums[id] = Sum(buffer + start, count));
                    workers[t].Start();
                }
                foreach (var w in workers) w.Join();
                double seconds = sw.Elapsed.TotalSeconds;
                best = Math.Max(best, floats * sizeof(float) / seconds);
                foreach (var s in sums) sink += s;
            }
            // Every element is 1, so the sums must be positive; checking them keeps the loads live.
            if (!(sink > 0)) throw new InvalidOperationException("bandwidth sum is wrong");
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>Sum of n floats (n a multiple of 64) with four vector accumulators.</summary>
    static float Sum(float* p, long n)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a = default, b = default, c = default, d = default;
            for (long i = 0; i < n; i += 64)
            {
                a += Vector512.LoadAligned(p + i);
                b += Vector512.LoadAligned(p + i + 16);
                c += Vector512.LoadAligned(p + i + 32);
                d += Vector512.LoadAligned(p + i + 48);
            }
            return Vector512.Sum(a + b + c + d);
        }
        Vector256<float> e = default, f = default, g = default, h = default;
        for (long i = 0; i < n; i += 32)
        {
            e += Vector256.LoadAligned(p + i);
            f += Vector256.LoadAligned(p + i + 8);
            g += Vector256.LoadAligned(p + i + 16);
            h += Vector256.LoadAligned(p + i + 24);
        }
        return Vector256.Sum(e + f + g + h);
    }
}
