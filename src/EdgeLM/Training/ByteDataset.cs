// A byte-level language-modelling dataset: every byte of a text is one token, numbered as in the
// SentencePiece-style vocabulary RandomModel.AddVocabulary writes (unk 0, BOS 1, EOS 2, then
// <0x00>..<0xFF> as 3..258), so a model trained on it exports with that vocabulary and the engine's
// tokenizer encodes and decodes it. The last fraction of the file is held out for validation.
// Its token streams start with BOS (Sequence), so the model learns what the engine feeds it first.
namespace EdgeLM.Training;

public sealed class ByteDataset
{
    /// <summary>unk, BOS, EOS and 256 bytes.</summary>
    public const int VocabSize = 3 + 256;
    public const int Bos = 1, FirstByte = 3;

    public ByteDataset(ReadOnlySpan<byte> text, double validationFraction = 0.1)
    {
        int split = (int)(text.Length * (1 - validationFraction));
        Train = ToTokens(text[..split]);
        Validation = ToTokens(text[split..]);
    }

    public int[] Train { get; }
    public int[] Validation { get; }

    /// <summary>Train and Validation as next-token streams, BOS first.</summary>
    public TokenSequence TrainSequence => Sequence(Train);
    public TokenSequence ValidationSequence => Sequence(Validation);

    /// <summary>BOS followed by <paramref name="tokens"/>: the stream the trainer cuts windows from.</summary>
    public static TokenSequence Sequence(ReadOnlySpan<int> tokens)
    {
        var t = new int[tokens.Length + 1];
        t[0] = Bos;
        tokens.CopyTo(t.AsSpan(1));
        return new TokenSequence(t);
    }

    /// <summary>The byte tokens of UTF-8 text (no BOS).</summary>
    public static int[] Encode(string text) => ToTokens(System.Text.Encoding.UTF8.GetBytes(text));

    static int[] ToTokens(ReadOnlySpan<byte> bytes)
    {
        var t = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) t[i] = FirstByte + bytes[i];
        return t;
    }

    /// <summary>Fills B windows of T tokens: inputs = [BOS, s0 .. s(T-2)], targets = [s0 .. s(T-1)] for a
    /// span s of <paramref name="source"/> starting at a random offset.</summary>
    public static void Sample(int[] source, Span<int> inputs, Span<int> targets, int B, int T, Random rng)
    {
        for (int b = 0; b < B; b++) Window(source, rng.Next(source.Length - T), inputs.Slice(b * T, T), targets.Slice(b * T, T));
    }

    /// <summary>The window at <paramref name="offset"/>.</summary>
    public static void Window(int[] source, int offset, Span<int> inputs, Span<int> targets)
    {
        int T = inputs.Length;
        inputs[0] = Bos;
        source.AsSpan(offset, T - 1).CopyTo(inputs[1..]);
        source.AsSpan(offset, T).CopyTo(targets);
    }

    /// <summary>Cross-entropy (nats per token) of <paramref name="eval"/> under the unigram distribution of
    /// <paramref name="fit"/> (add-one smoothed): the loss of the best model that ignores context.</summary>
    public static double UnigramLoss(int[] fit, int[] eval)
    {
        var counts = new double[VocabSize];
        foreach (int t in fit) counts[t]++;
        double total = fit.Length + VocabSize;
        double loss = 0;
        foreach (int t in eval) loss -= Math.Log((counts[t] + 1) / total);
        return loss / eval.Length;
    }
}
