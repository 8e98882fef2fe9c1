// --data as a training run reads it: a folder gives one document per .txt / .md file in ordinal
// order (other files ignored), each joined as BOS + bytes + EOS under the byte vocabulary, the last
// fraction held out; invalid UTF-8 and data too short for one window are errors that say why.
using EdgeLM.Tests.Support;
using EdgeLM.Training;
using EdgeLM.Training.Run;

namespace EdgeLM.Tests.Training;

public class RunDataTests
{
    [Fact]
    public void A_folder_is_read_as_documents_joined_with_bos_and_eos()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("b.md"), "# Bb");
        File.WriteAllText(dir.File("a.txt"), "héllo");
        File.WriteAllText(dir.File("skip.json"), "{}");
        var docs = RunData.ReadDocuments(dir.Path);
        Assert.Equal(["héllo", "# Bb"], docs);

        var byteTok = RunTokenizer.Create(new RunConfig(), dir.Path, () => docs);
        var (train, val) = RunData.Load(docs, byteTok, valFraction: 0.25, T: 3);
        int[] expected = [ByteDataset.Bos, .. ByteDataset.Encode("héllo"), 2, ByteDataset.Bos, .. ByteDataset.Encode("# Bb"), 2];
        Assert.Equal(expected, train.Tokens.Concat(val.Tokens).ToArray());
        Assert.Equal((int)(expected.Length * 0.75), train.Length);
        Assert.Null(train.LossMask);
    }

    [Fact]
    public void Invalid_utf8_and_too_little_data_are_clear_errors()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("bad.txt"), [0x41, 0xC3, 0x28]);
        var e = Assert.Throws<FormatException>(() => RunData.ReadDocuments(dir.Path));
        Assert.Contains("bad.txt", e.Message);
        var tok = RunTokenizer.Create(new RunConfig(), dir.Path, () => []);
        var short_ = Assert.Throws<ArgumentException>(() => RunData.Load(["tiny text"], tok, 0.1, T: 64));
        Assert.Contains("--ctx 64", short_.Message);
        Assert.Throws<FileNotFoundException>(() => RunData.ReadDocuments(dir.File("missing.txt")));
    }
}

public class RunStructuredDataTests
{
    [Fact]
    public void A_training_run_reads_jsonl_documents_whole_on_either_side_of_the_split()
    {
        using var dir = new TempDir();
        string data = dir.File("docs.jsonl");
        var docs = Enumerable.Range(0, 40).Select(i => $"document {i:D2}: " + new string((char)('a' + i % 26), 60)).ToArray();
        File.WriteAllLines(data, docs.Select(d => System.Text.Json.JsonSerializer.Serialize(new { text = d })));
        Assert.True(RunData.IsStructured(data));

        var tok = RunTokenizer.Create(new RunConfig(), dir.Path, () => []);
        var (train, val) = RunData.LoadStructured(data, tok, valFraction: 0.25, T: 16, seed: 3);
        // Every document is on exactly one side, whole: BOS + bytes + EOS.
        var all = train.Tokens.Concat(val.Tokens).ToArray();
        Assert.Equal(docs.Sum(d => ByteDataset.Encode(d).Length + 2), all.Length);
        Assert.Equal(10 * (ByteDataset.Encode(docs[0]).Length + 2), val.Length);
        Assert.Equal(ByteDataset.Bos, val.Tokens[0]);

        var config = new RunConfig
        {
            Data = data,
            Out = dir.File("run"),
            Arch = "llama",
            Layers = 1,
            Dim = 32,
            Heads = 4,
            KvHeads = 2,
            Ffn = 64,
            Ctx = 16,
            Steps = 4,
            Batch = 2,
            Seed = 1,
            Threads = 1,
            EvalEvery = 2,
            EvalBatches = 1,
            SaveEvery = 2,
        };
        var result = TrainingRun.Run(config, resume: false);
        Assert.True(File.Exists(Path.Combine(config.Out, "model.gguf")));
        Assert.True(float.IsFinite(result.ValidationLoss), $"validation loss {result.ValidationLoss}");
    }

    [Fact]
    public void Chat_jsonl_is_rendered_with_the_tokenizers_template_and_masked_to_assistant_turns()
    {
        using var dir = new TempDir();
        string data = dir.File("chat.jsonl");
        var lines = Enumerable.Range(0, 12).Select(i => System.Text.Json.JsonSerializer.Serialize(new
        {
            messages = new object[]
            {
                new { role = "user", content = $"What is {i} plus {i}?" },
                new { role = "assistant", content = $"It is {2 * i}." },
            },
        }));
        File.WriteAllLines(data, lines);
        string tokenizerDir = Path.GetDirectoryName(TestData.File("tokenizers", "hf", "qwen3", "tokenizer.json"))!;
        var tok = RunTokenizer.Create(new RunConfig { Tokenizer = tokenizerDir }, dir.Path, () => []);
        var (train, val) = RunData.LoadStructured(data, tok, valFraction: 0.25, T: 8, seed: 3);
        Assert.NotNull(train.LossMask);
        // The targets that count decode to the assistant's answers and their end-of-turn tokens, nothing else.
        var tokenizer = EdgeLM.Tokenizers.Tokenizer.Load(tokenizerDir);
        string counted = tokenizer.Decode(train.Tokens.Where((_, i) => train.LossMask![i]).ToArray());
        Assert.DoesNotContain("plus", counted);
        Assert.Contains("It is", counted);
        Assert.Contains("<|im_end|>", counted);
        Assert.True(val.Length > 0);
    }
}
