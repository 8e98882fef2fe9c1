// MappedFile.Evict drops the pages of a range that a private copy now serves: on Linux the process's
// resident size of the mapping falls (read from /proc/self/smaps), the map stays valid (the bytes read back
// the same, paged in again from the file), and a range outside the map is refused.
using EdgeLM.Formats;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Formats;

public unsafe class MappedFileEvictTests
{
    [Fact]
    public void Evicted_pages_leave_the_process_and_read_back_the_same()
    {
        using var dir = new TempDir();
        string path = dir.File("data.bin");
        var bytes = new byte[8 << 20];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        using var file = MappedFile.Open(path);
        long sum = Touch(file);
        long before = ResidentKb(path);

        // The middle 6 MiB: whole pages only, so the first and last pages stay.
        bool evicted = file.Evict(file.Pointer + 1_000_000, 6 << 20);
        Assert.False(file.Evict(file.Pointer + bytes.Length - 10, 100), "a range past the end was accepted");
        if (OperatingSystem.IsLinux())
        {
            Assert.True(evicted, "madvise(MADV_DONTNEED) was not given on Linux");
            long after = ResidentKb(path);
            Assert.True(before - after >= 5 << 10, $"resident {before} kB before, {after} kB after evicting 6 MiB");
        }
        Assert.Equal(sum, Touch(file));
        Assert.True(file.Span(0, bytes.Length).SequenceEqual(bytes));
    }

    /// <summary>Reads a byte of every page (so each is resident) and sums them.</summary>
    static long Touch(MappedFile file)
    {
        long sum = 0;
        for (long i = 0; i < file.Length; i += 4096) sum += file.Pointer[i];
        return sum;
    }

    /// <summary>Rss of this process's mappings of the file, in kB (0 where /proc/self/smaps is not there).</summary>
    static long ResidentKb(string path)
    {
        if (!File.Exists("/proc/self/smaps")) return 0;
        long kb = 0;
        bool inFile = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.Contains('-')) inFile = line.EndsWith(path, StringComparison.Ordinal);
            else if (inFile && line.StartsWith("Rss:", StringComparison.Ordinal))
                kb += long.Parse(line["Rss:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        return kb;
    }
}
