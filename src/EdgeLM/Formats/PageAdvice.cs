// madvise(2) for the two places that tell Linux how to treat a range of memory: the weight copies
// (huge pages, WeightArena) and the parts of a mapped model file no product reads any more (MappedFile.Evict).
// Linux only; elsewhere, or with a libc that lacks the call, the advice is not given and nothing else changes.
using System.Runtime.InteropServices;

namespace EdgeLM.Formats;

internal static unsafe partial class PageAdvice
{
    /// <summary>MADV_DONTNEED: drop the range's pages from this process (a file's pages are read again on access).</summary>
    public const int DontNeed = 4;
    /// <summary>MADV_HUGEPAGE: back the range with transparent huge pages where the kernel's mode allows it.</summary>
    public const int HugePage = 14;

    /// <summary>Gives the advice for [at, at + length) (page-aligned start); false where it was not given.</summary>
    public static bool Advise(void* at, nuint length, int advice)
    {
        if (!OperatingSystem.IsLinux() || length == 0) return false;
        try
        {
            return madvise(at, length, advice) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(void* addr, nuint length, int advice);
}
