// Where the training windows of a step come from, as a pure function of (seed, step, micro-batch,
// row): a counter-based generator (SplitMix64's finaliser, Steele et al. 2014, applied to the
// chained coordinates) instead of a stateful Random, so a run resumed at step s draws exactly the
// batches the uninterrupted run would have drawn, with no generator state in the checkpoint.
// Not a data loader: the windows are cut from a TokenSequence by the trainer.
namespace EdgeLM.Training;

public static class BatchSampler
{
    /// <summary>SplitMix64's output function: a bijective 64-bit mix with full avalanche.</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The start offset (0 ≤ offset &lt; <paramref name="count"/>) of window <paramref name="row"/> of
    /// micro-batch <paramref name="micro"/> of step <paramref name="step"/>.</summary>
    public static int Offset(int seed, int step, int micro, int row, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ulong h = Mix(Mix(Mix(Mix((uint)seed) ^ (uint)step) ^ (uint)micro) ^ (uint)row);
        // The top 53 bits modulo count: the bias is below count / 2^53, nothing at any corpus size.
        return (int)((h >> 11) % (ulong)count);
    }

    /// <summary>Fills B windows of T next-token pairs for (seed, step, micro) from <paramref name="source"/>.</summary>
    public static void Fill(TokenSequence source, int seed, int step, int micro, Span<int> inputs, Span<int> targets, Span<bool> mask, int B, int T)
    {
        int count = source.Length - T; // offsets 0 .. Length - T - 1 leave room for the last target
        for (int b = 0; b < B; b++)
            source.Window(Offset(seed, step, micro, b, count), inputs.Slice(b * T, T), targets.Slice(b * T, T), mask.Slice(b * T, T));
    }
}
