// Managed allocations of warm code, counted on the calling thread (other test classes run in parallel
// and allocate, so a process-wide count would be noise).
namespace EdgeLM.Tests.Support;

public static class Allocations
{
    /// <summary>The fewest bytes one call of <paramref name="action"/> allocated on this thread over
    /// <paramref name="attempts"/> calls. The thread's counter now and then includes a few KB the code did not
    /// allocate (6.5 KB once in a loaded CI run, from a decode loop that reads 0 in every other run; the
    /// runtime's own test of the counter allows for the same). That lands in one window; an allocation by the
    /// code under test lands in every window, so the least of a few is the code's own.</summary>
    public static long Least(Action action, int attempts = 3)
    {
        long least = long.MaxValue;
        for (int i = 0; i < attempts && least > 0; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            action();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }
}
