// `edgelm tokenizer train` end to end as a user runs it: text + JSONL + folder input, the three
// files written, the trained tokenizer usable; bad arguments fail with one clear line; a cancelled
// write leaves nothing behind.
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using EdgeLM.Tokenizers.Training;
using Xunit;

namespace EdgeLM.Tests.Tokenizers.Training;

public class TokenizerTrainCliTests
{
    [Fact]
    public void TrainsFromTextJsonlAndFolderAndWritesLoadableFiles()
    {
        using var dir = new TempDir();
        string en = File.ReadAllText(TestData.File("corpus", "en", "tinyshakespeare.txt"))[..60_000];
        File.WriteAllText(dir.File("a.txt"), en);
        Directory.CreateDirectory(dir.File("more"));
        File.WriteAllLines(dir.File("more/b.jsonl"), ["{\"text\":\"床前明月光，疑是地上霜。\"}", "{\"text\":\"舉頭望明月，低頭思故鄉。\"}"]);
        string outDir = dir.File("out");
        var r = CliRunner.Run("tokenizer", "train", dir.File("a.txt"), dir.File("more"), "--vocab", "600", "--out", outDir,
            "--special", "<|endoftext|>", "--special", "<|im_end|>", "--pre", "llama-bpe", "--min-frequency", "2");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("trained 600 tokens", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("merging", r.StdErr, StringComparison.Ordinal);
        Assert.Equal(3, Directory.GetFiles(outDir).Length);
        var tok = Tokenizer.Load(outDir);
        Assert.Equal("llama-bpe", tok.Data.Pre);
        Assert.Equal(600, tok.VocabSize);
        Assert.Equal(TokenType.Control, tok.GetTokenType(1));
        string text = "To be, or not to be: 明月";
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
        Assert.Equal(tok.Encode(text), Tokenizer.Load(Path.Combine(outDir, "tokenizer.gguf")).Encode(text));
    }

    [Fact]
    public void BadArgumentsFailWithOneClearLine()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "hello hello hello");
        var small = CliRunner.Run("tokenizer", "train", dir.File("a.txt"), "--vocab", "100", "--out", dir.File("o"));
        Assert.Equal(1, small.ExitCode);
        Assert.Contains("256", small.StdErr, StringComparison.Ordinal);
        var pre = CliRunner.Run("tokenizer", "train", dir.File("a.txt"), "--vocab", "300", "--out", dir.File("o"), "--pre", "falcon");
        Assert.Equal(1, pre.ExitCode);
        Assert.Contains("qwen2", pre.StdErr, StringComparison.Ordinal);
        var missing = CliRunner.Run("tokenizer", "train", dir.File("nope.txt"), "--vocab", "300", "--out", dir.File("o"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("nope.txt", missing.StdErr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.File("o")) && Directory.GetFiles(dir.File("o")).Length > 0);
    }

    [Fact]
    public void CancelledWriteLeavesNoFiles()
    {
        using var dir = new TempDir();
        var data = BpeTrainer.TrainOnCounts(new Dictionary<string, long> { ["hello"] = 5 }, new BpeTrainerOptions { VocabSize = 300 });
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => TokenizerFiles.Write(data, dir.Path, cts.Token));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
