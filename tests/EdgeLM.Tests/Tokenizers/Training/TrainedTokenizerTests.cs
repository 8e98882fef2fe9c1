// A tokenizer trained on the reference corpora (English and Tang poems) once per class: it
// round-trips held-out text, its tokenizer.json and GGUF load back and encode identically, and
// llama.cpp (the oracle) tokenizes with the GGUF exactly as we do.
using System.Text;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using EdgeLM.Tokenizers.Training;
using LLama;
using LLama.Common;
using Xunit;

namespace EdgeLM.Tests.Tokenizers.Training;

public sealed class TrainedTokenizerFixture : IDisposable
{
    public TempDir Dir { get; } = new();
    public TokenizerData Data { get; }
    public Tokenizer Tokenizer { get; }
    public string[] Written { get; }
    /// <summary>Held-out lines: the end of tinyshakespeare and a poem file not trained on, plus hand-picked cases.</summary>
    public List<string> HeldOut { get; } = [];

    public TrainedTokenizerFixture()
    {
        string en = File.ReadAllText(TestData.File("corpus", "en", "tinyshakespeare.txt"));
        var docs = new List<string> { en[..300_000] };
        TrainingCorpus.ReadFile(TestData.File("corpus", "zh", "poet.tang.0.json"), docs);
        Data = BpeTrainer.Train(docs, new BpeTrainerOptions
        {
            VocabSize = 3000,
            SpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            Pre = "qwen2",
        });
        Tokenizer = new Tokenizer(Data);
        Written = TokenizerFiles.Write(Data, Dir.Path);

        foreach (string line in en[^20_000..].Split('\n')) if (line.Length > 0) HeldOut.Add(line);
        var poems = new List<string>();
        TrainingCorpus.ReadFile(TestData.File("corpus", "zh", "poet.tang.4000.json"), poems);
        HeldOut.AddRange(poems.Take(150));
        HeldOut.AddRange([
            "Hello 👋🏽 world! 🇫🇷 family: 👨‍👩‍👧", "混合 text with 中文 and numbers 12345", "  leading and trailing  ",
            "tabs\tand\r\nnewlines\n\n\n", "Ünïcödé café naïve", "日本語のテキストも", "한국어 문장", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠀀𠀁",
            "it's they're we'll I'd", "e\u0301 (combining accent, NFC makes it é)",
        ]);
    }

    public void Dispose() => Dir.Dispose();
}

public class TrainedTokenizerTests(TrainedTokenizerFixture f) : IClassFixture<TrainedTokenizerFixture>
{
    [Fact]
    public void DecodeOfEncodeIsTheTextOnHeldOutEnglishChineseAndEmoji()
    {
        foreach (string text in f.HeldOut)
            Assert.Equal(text, f.Tokenizer.Decode(f.Tokenizer.Encode(text)));
    }

    [Fact]
    public void WritesAllFilesAndNoTemporaries()
    {
        Assert.Equal(["tokenizer.json", "tokenizer_config.json", "tokenizer.gguf"], f.Written.Select(Path.GetFileName));
        Assert.Equal(3, Directory.GetFiles(f.Dir.Path).Length);
    }

    [Fact]
    public void TokenizerJsonLoadsBackAndEncodesIdentically()
    {
        var loaded = Tokenizer.Load(f.Dir.File("tokenizer.json"));
        Assert.Equal("qwen2", loaded.Data.Pre); // the Split regex is recognised as the family's
        Assert.Equal(f.Data.Tokens, loaded.Data.Tokens);
        Assert.Equal(f.Data.Merges, loaded.Data.Merges);
        Assert.Equal(f.Data.Types, loaded.Data.Types);
        Assert.Equal(f.Data.EosId, loaded.Data.EosId);
        foreach (string text in f.HeldOut)
            Assert.Equal(f.Tokenizer.Encode(text), loaded.Encode(text));
        Assert.Equal(f.Tokenizer.Encode("<|im_start|>hi<|im_end|>", parseSpecial: true), loaded.Encode("<|im_start|>hi<|im_end|>", parseSpecial: true));
    }

    [Fact]
    public void GgufLoadsBackAndEncodesIdentically()
    {
        var loaded = Tokenizer.Load(f.Dir.File("tokenizer.gguf"));
        Assert.Equal("gpt2", loaded.Data.Model);
        foreach (string text in f.HeldOut)
            Assert.Equal(f.Tokenizer.Encode(text), loaded.Encode(text));
    }

    [Fact]
    public void LlamaCppTokenizesWithTheGgufExactlyAsWeDo()
    {
        LLama.Native.NativeApi.llama_empty_call();
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(f.Dir.File("tokenizer.gguf")) { VocabOnly = true });
        Assert.Equal(f.Data.VocabSize, weights.Vocab.Count);
        int compared = 0;
        foreach (string text in f.HeldOut)
        {
            int[] ours = f.Tokenizer.Encode(text);
            int[] theirs = [.. weights.Tokenize(text, false, false, Encoding.UTF8).Select(t => (int)t)];
            Assert.True(ours.SequenceEqual(theirs), $"'{text}': ours [{string.Join(' ', ours)}], llama.cpp [{string.Join(' ', theirs)}]");
            compared++;
        }
        Assert.True(compared >= 200, $"only {compared} strings compared");
    }
}
