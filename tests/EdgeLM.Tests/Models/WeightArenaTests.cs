// The block the load-time weight copies live in: page-aligned slices that never overlap, a 2 MiB aligned
// start (so that huge pages can back it), a clear error when it is full or freed.
using EdgeLM.Models;

namespace EdgeLM.Tests.Models;

public unsafe class WeightArenaTests
{
    [Fact]
    public void Slices_are_page_aligned_do_not_overlap_and_fill_a_huge_page_aligned_block()
    {
        long[] sizes = [1, 4096, 4097, 3 << 20, 100];
        using var arena = WeightArena.Allocate(sizes);
        // 4096 + 4096 + 8192 + 3 MiB + 4096 rounds up to two 2 MiB pages
        Assert.Equal(4L << 20, arena.Size);
        var starts = sizes.Select(s => (long)arena.Take(s)).ToArray();
        Assert.Equal(0, starts[0] % (2 << 20));
        for (int i = 0; i < starts.Length; i++)
        {
            Assert.Equal(0, starts[i] % 4096);
            if (i > 0) Assert.True(starts[i] >= starts[i - 1] + sizes[i - 1], $"slice {i} overlaps slice {i - 1}");
        }
        // every byte of every slice is writable
        for (int i = 0; i < starts.Length; i++) new Span<byte>((byte*)starts[i], (int)sizes[i]).Fill((byte)i);
        var e = Assert.Throws<InvalidOperationException>(() => arena.Take(1 << 20));
        Assert.Contains("full", e.Message, StringComparison.Ordinal);
        if (!OperatingSystem.IsLinux()) Assert.False(arena.HugePagesAdvised);
    }

    [Fact]
    public void A_freed_arena_hands_out_nothing()
    {
        var arena = WeightArena.Allocate([10]);
        arena.Dispose();
        arena.Dispose();
        Assert.Throws<ObjectDisposedException>(() => arena.Take(1));
    }
}
