// The Chinese-aware mode: the character-alignment rule on hand-worked UTF-8 cases; a tokenizer
// trained on the reference corpora with --chinese-aware holds no token that straddles a character
// boundary (checked against the byte strings of the corpus's own characters, not against the rule's
// code) while plain training on the same text does learn such tokens; the trained tokenizer.json loads
// back and encodes held-out text as the trainer's tokenizer does, and llama.cpp agrees with its GGUF.
using System.Text;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using EdgeLM.Tokenizers.Training;
using LLama;
using LLama.Common;
using Xunit;

namespace EdgeLM.Tests.Tokenizers.Training;

public sealed class ChineseAwareFixture : IDisposable
{
    public TempDir Dir { get; } = new();
    public TokenizerData Plain { get; }
    public TokenizerData Aware { get; }
    public HashSet<string> CharacterPieces { get; } = new(StringComparer.Ordinal);
    public List<string> HeldOut { get; } = [];

    public ChineseAwareFixture()
    {
        string en = File.ReadAllText(TestData.File("corpus", "en", "tinyshakespeare.txt"));
        var docs = new List<string> { en[..200_000] };
        TrainingCorpus.ReadFile(TestData.File("corpus", "zh", "poet.tang.0.json"), docs);
        var options = new BpeTrainerOptions { VocabSize = 3000, SpecialTokens = ["<|endoftext|>"] };
        Plain = BpeTrainer.Train(docs, options);
        Aware = BpeTrainer.Train(docs, options with { ChineseAware = true, AlignToCharacters = true });
        TokenizerFiles.Write(Aware, Dir.Path);
        // Every contiguous byte run inside one character of the corpus, in the GPT-2 alphabet.
        foreach (string d in docs)
            foreach (var r in d.EnumerateRunes())
            {
                string bytes = BpeTrainer.ToByteAlphabet(r.ToString());
                for (int i = 0; i < bytes.Length; i++)
                    for (int j = i + 1; j <= bytes.Length; j++) CharacterPieces.Add(bytes[i..j]);
            }
        foreach (string line in en[^10_000..].Split('\n')) if (line.Length > 0) HeldOut.Add(line);
        var poems = new List<string>();
        TrainingCorpus.ReadFile(TestData.File("corpus", "zh", "poet.tang.4000.json"), poems);
        HeldOut.AddRange(poems.Take(100));
        HeldOut.Add("混合 text with 中文，「引號」與標點。");
    }

    public void Dispose() => Dir.Dispose();
}

public class ChineseAwareTrainingTests(ChineseAwareFixture f) : IClassFixture<ChineseAwareFixture>
{
    static readonly UTF8Encoding Strict = new(false, true);

    // "，" is EF BC 8C, "不" is E4 B8 8D (RFC 3629 three-byte forms).
    [Theory]
    [InlineData(new byte[] { 0xEF }, new byte[] { 0xBC }, true)]              // head of "，"
    [InlineData(new byte[] { 0xBC }, new byte[] { 0x8C }, true)]              // tail of "，"
    [InlineData(new byte[] { 0xEF, 0xBC }, new byte[] { 0x8C }, true)]        // all of "，"
    [InlineData(new byte[] { 0xEF, 0xBC, 0x8C }, new byte[] { 0xE4, 0xB8, 0x8D }, true)] // "，不"
    [InlineData(new byte[] { 0x61 }, new byte[] { 0x62 }, true)]              // "ab"
    [InlineData(new byte[] { 0xEF, 0xBC, 0x8C }, new byte[] { 0xE4 }, false)] // "，" + head of "不"
    [InlineData(new byte[] { 0xEF, 0xBC, 0x8C }, new byte[] { 0xE4, 0xB8 }, false)]
    [InlineData(new byte[] { 0x8C }, new byte[] { 0xE4, 0xB8, 0x8D }, false)] // tail of "，" + "不"
    [InlineData(new byte[] { 0x61 }, new byte[] { 0xE4 }, false)]             // "a" + head of "不"
    [InlineData(new byte[] { 0xE4, 0xB8 }, new byte[] { 0x8D, 0x61 }, true)]  // judged on the joined bytes: "不a" is whole
    public void AlignmentRuleOnHandWorkedUtf8(byte[] a, byte[] b, bool allowed) =>
        Assert.Equal(allowed, CharacterAlignment.Allows(a, b));

    // A token straddles when its bytes are neither whole characters nor a byte run inside one character of the corpus.
    bool Straddles(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++) bytes[i] = ByteOf[token[i]];
        try { Strict.GetString(bytes); return false; }
        catch (DecoderFallbackException) { return !f.CharacterPieces.Contains(token); }
    }

    // The GPT-2 alphabet inverted from the trainer's 256 byte tokens (ids 0..255 are bytes 0..255 with no specials).
    static readonly Dictionary<char, byte> ByteOf = BpeTrainer.TrainOnCounts([], new BpeTrainerOptions { VocabSize = 256 })
        .Tokens.Select((t, i) => (t[0], (byte)i)).ToDictionary(p => p.Item1, p => p.Item2);

    [Fact]
    public void AwareTrainingLearnsNoTokenAcrossACharacterBoundaryWhilePlainDoes()
    {
        int plainStraddling = f.Plain.Tokens.Skip(257).Count(Straddles); // after the special token and the 256 bytes
        Assert.True(plainStraddling > 0, "plain BPE was expected to learn tokens such as '，' + a lead byte on this corpus");
        var bad = f.Aware.Tokens.Skip(257).Where(Straddles).ToList();
        Assert.True(bad.Count == 0, $"{bad.Count} tokens straddle a character boundary, e.g. '{bad.FirstOrDefault()}'");
        Assert.Equal(3000, f.Aware.VocabSize); // the freed entries went to other merges
    }

    [Fact]
    public void TokenizerJsonLoadsBackAndEncodesAsTheTrainerDoes()
    {
        var trained = new Tokenizer(f.Aware);
        var loaded = Tokenizer.Load(f.Dir.File("tokenizer.json"));
        Assert.Equal(f.Aware.Merges, loaded.Data.Merges);
        foreach (string text in f.HeldOut)
        {
            Assert.Equal(trained.Encode(text), loaded.Encode(text));
            Assert.Equal(text, loaded.Decode(loaded.Encode(text)));
        }
    }

    [Fact]
    public void LlamaCppTokenizesWithTheAwareGgufExactlyAsWeDo()
    {
        LLama.Native.NativeApi.llama_empty_call();
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(f.Dir.File("tokenizer.gguf")) { VocabOnly = true });
        var ours = new Tokenizer(f.Aware);
        foreach (string text in f.HeldOut)
        {
            int[] mine = ours.Encode(text);
            int[] theirs = [.. weights.Tokenize(text, false, false, Encoding.UTF8).Select(t => (int)t)];
            Assert.True(mine.SequenceEqual(theirs), $"'{text}': ours [{string.Join(' ', mine)}], llama.cpp [{string.Join(' ', theirs)}]");
        }
    }

    [Fact]
    public void ReweightRoundsFractionalWeightsAndLeavesOtherPiecesAlone()
    {
        var counts = new Dictionary<string, long> { ["，不知"] = 3, [" the"] = 3, ["明"] = 1 };
        var w = CjkSegmenter.Reweight(counts, 2.5);
        Assert.Equal(8, w["，不知"]); // 7.5 rounds away from zero
        Assert.Equal(3, w[" the"]);
        Assert.Equal(3, w["明"]);     // 2.5 → 3
        Assert.Throws<ArgumentOutOfRangeException>(() => CjkSegmenter.Reweight(counts, 0));
    }

    [Fact]
    public void CharacterBonusRanksTheMergesThatBuildACharacterFirst()
    {
        // "不" is E4 B8 8D: its two character-building pairs are seen 8 times, English "ab" 10 times.
        var counts = new Dictionary<string, long> { ["ab"] = 10, ["不"] = 8 };
        string First(double bonus) => BpeTrainer.TrainOnCounts(counts, new BpeTrainerOptions
        {
            VocabSize = 257,
            ChineseAware = true,
            AlignToCharacters = true,
            CharacterBonus = bonus,
        }).Merges[0];
        Assert.Equal("a b", First(1));        // by count alone
        // 8 × 1.4 = 11.2 > 10: a step of "不" comes first (its head E4 B8 or its tail B8 8D, GPT-2 alphabet).
        Assert.Contains(First(1.4), (string[])["ä ¸", "¸ į"]);
        Assert.Equal("a b", First(1.2));      // 9.6 < 10
        // Off unless ChineseAware: the plain trainer ranks by count.
        var plain = BpeTrainer.TrainOnCounts(counts, new BpeTrainerOptions { VocabSize = 257, CharacterBonus = 4 });
        Assert.Equal("a b", plain.Merges[0]);
    }

    [Fact]
    public void BadHanWeightFailsWithOneClearLine()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "明月 明月 明月");
        var r = CliRunner.Run("tokenizer", "train", dir.File("a.txt"), "--vocab", "300", "--out", dir.File("o"), "--chinese-aware", "--han-weight", "0");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--han-weight", r.StdErr, StringComparison.Ordinal);
        var b = CliRunner.Run("tokenizer", "train", dir.File("a.txt"), "--vocab", "300", "--out", dir.File("o"), "--chinese-aware", "--character-bonus", "0.5");
        Assert.Equal(1, b.ExitCode);
        Assert.Contains("--character-bonus", b.StdErr, StringComparison.Ordinal);
    }
}
