// BpeTrainer on hand-made counts (merges worked out by hand below), min-frequency, special tokens,
// and round trips of a tokenizer trained on the reference corpora through its own files.
using System.Text;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using EdgeLM.Tokenizers.Training;
using Xunit;

namespace EdgeLM.Tests.Tokenizers.Training;

public class BpeTrainerTests
{
    // The classic example: hug×10, pug×5, pun×12, bun×4, hugs×5. Pair counts and merges by hand:
    //   start: "u g" 10+5+5=20, "p u" 5+12=17, "u n" 12+4=16, "h u" 10+5=15, "g s" 5, "b u" 4
    //   1 "u g" (20) → h ug, p ug, p u n, b u n, h ug s: "u n" 16, "h ug" 15, "p u" 12, "p ug" 5, "ug s" 5, "b u" 4
    //   2 "u n" (16) → p un, b un:                        "h ug" 15, "p un" 12, "p ug" 5, "ug s" 5, "b un" 4
    //   3 "h ug" (15) → hug, hug s:                       "p un" 12, "p ug" 5, "hug s" 5, "b un" 4
    //   4 "p un" (12)
    //   5 "p ug" (5) — ties with "hug s" (5); 'p' (byte 0x70) was created before "hug", so it goes first
    //   6 "hug s" (5)
    //   7 "b un" (4)
    static readonly Dictionary<string, long> Hug = new() { ["hug"] = 10, ["pug"] = 5, ["pun"] = 12, ["bun"] = 4, ["hugs"] = 5 };

    [Fact]
    public void MergesOnAHandMadeCorpusAreTheOnesWorkedOutByHand()
    {
        var data = BpeTrainer.TrainOnCounts(Hug, new BpeTrainerOptions { VocabSize = 1000, MinFrequency = 1 });
        Assert.Equal(["u g", "u n", "h ug", "p un", "p ug", "hug s", "b un"], data.Merges);
        Assert.Equal(256 + 7, data.VocabSize);
        Assert.Equal(["ug", "un", "hug", "pun", "pug", "hugs", "bun"], data.Tokens[256..]);
        var tok = new Tokenizer(data);
        Assert.Equal([256 + 5], tok.Encode("hugs"));
        Assert.Equal([256 + 2], tok.Encode("hug"));
    }

    [Fact]
    public void MinFrequencyStopsBeforeRarerPairs()
    {
        var data = BpeTrainer.TrainOnCounts(Hug, new BpeTrainerOptions { VocabSize = 1000, MinFrequency = 5 });
        Assert.Equal(["u g", "u n", "h ug", "p un", "p ug", "hug s"], data.Merges); // "b un" (4) is below 5
        var capped = BpeTrainer.TrainOnCounts(Hug, new BpeTrainerOptions { VocabSize = 256 + 3, MinFrequency = 1 });
        Assert.Equal(["u g", "u n", "h ug"], capped.Merges);
    }

    [Fact]
    public void SpecialTokensAreControlTokensAndNeverLearnedFrom()
    {
        var docs = new List<string>();
        for (int i = 0; i < 50; i++) docs.Add($"<|im_start|>user {i}<|im_end|>hello world<|endoftext|>");
        var options = new BpeTrainerOptions { VocabSize = 400, SpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] };
        var data = BpeTrainer.Train(docs, options);
        Assert.Equal(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], data.Tokens[..3]);
        Assert.All(data.Types[..3], t => Assert.Equal(TokenType.Control, t));
        Assert.Equal(0, data.EosId);
        // '<', '|' and '>' occur in the corpus only inside special tokens: no merge may contain them.
        Assert.DoesNotContain(data.Merges, m => m.Contains('<') || m.Contains('|'));
        var tok = new Tokenizer(data);
        int[] ids = tok.Encode("<|im_start|>hello<|im_end|>", parseSpecial: true);
        Assert.Equal(1, ids[0]);
        Assert.Equal(2, ids[^1]);
        Assert.Equal("<|im_start|>hello<|im_end|>", tok.Decode(ids));
    }

    [Fact]
    public void VocabularyTooSmallForTheBytesIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => BpeTrainer.TrainOnCounts(Hug, new BpeTrainerOptions { VocabSize = 257, SpecialTokens = ["<a>", "<b>"] }));
        Assert.Contains("256", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryByteIsInTheVocabularyInByteOrder()
    {
        var data = BpeTrainer.TrainOnCounts(Hug, new BpeTrainerOptions { VocabSize = 300, SpecialTokens = ["<|endoftext|>"] });
        var tok = new Tokenizer(data);
        for (int b = 0; b < 256; b++) Assert.Equal([(byte)b], tok.TokenBytes(1 + b).ToArray());
    }
}
