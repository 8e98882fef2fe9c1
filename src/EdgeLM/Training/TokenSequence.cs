// A stream of token ids to train a language model on, and optionally which positions count toward
// the loss (for chat data, only the assistant's turns). Documents are already joined with their BOS
// / EOS tokens by whoever built the stream. Training windows are cut from it as next-token pairs:
// inputs Tokens[o .. o+T), targets Tokens[o+1 .. o+T], a target counting when LossMask is null or
// LossMask[that target's index] is true. Not a loader: see the data readers that produce it.
namespace EdgeLM.Training;

public sealed record TokenSequence(int[] Tokens, bool[]? LossMask = null)
{
    public int Length => Tokens.Length;

    /// <summary>Copies the window at <paramref name="offset"/> (needs offset + T + 1 ≤ Length); mask
    /// receives whether each target counts.</summary>
    public void Window(int offset, Span<int> inputs, Span<int> targets, Span<bool> mask)
    {
        int T = inputs.Length;
        if ((uint)offset > (uint)(Tokens.Length - T - 1))
            throw new ArgumentOutOfRangeException(nameof(offset), $"a window of {T} at {offset} does not fit in {Tokens.Length} tokens");
        Tokens.AsSpan(offset, T).CopyTo(inputs);
        Tokens.AsSpan(offset + 1, T).CopyTo(targets);
        if (LossMask is null) mask[..T].Fill(true);
        else LossMask.AsSpan(offset + 1, T).CopyTo(mask);
    }
}
