// How fast a 10 MB text corpus loads (read, strict UTF-8, tokenize with Qwen's byte-level BPE and
// with the byte vocabulary, pack). Reports the rate; asserts the result, not the time.
using System.Diagnostics;
using EdgeLM.Tests.Support;
using EdgeLM.Training.Data;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Training.Data;

public sealed class CorpusLoadRateTests(ITestOutputHelper output)
{
    [Fact]
    public void Ten_megabytes_of_text_load_and_the_rate_is_reported()
    {
        using var dir = new TempDir();
        string shakespeare = File.ReadAllText(TestData.File("corpus", "en", "tinyshakespeare.txt"));
        // Ten copies of ~1.1 MB, each its own file, so the files can be tokenized in parallel.
        for (int i = 0; i < 10; i++) File.WriteAllText(dir.File($"part{i}.txt"), shakespeare);
        long bytes = 10L * shakespeare.Length;

        var qwen = CorpusTokenizer.Load(TestData.File("tokenizers", "hf", "qwen3"));
        var clock = Stopwatch.StartNew();
        var (train, validation, stats) = TrainingCorpus.Load([dir.Path], qwen, new CorpusOptions());
        double seconds = clock.Elapsed.TotalSeconds;
        output.WriteLine($"qwen BPE: {bytes / 1e6:F1} MB, {stats.TrainTokens + stats.ValidationTokens} tokens in {seconds:F2} s = {bytes / 1e6 / seconds:F2} MB/s ({Environment.ProcessorCount} cores)");
        Assert.Equal(9, stats.TrainUnits);
        Assert.Equal(1, stats.ValidationUnits);
        Assert.Equal(train.Length / 9, validation.Length); // every copy tokenizes the same
        Assert.Equal(shakespeare, qwen.Decode(validation.Tokens.AsSpan(0, validation.Length - 1))); // no BOS; EOS last

        clock.Restart();
        var bytesCorpus = TrainingCorpus.Load([dir.Path], new ByteCorpusTokenizer(), new CorpusOptions());
        seconds = clock.Elapsed.TotalSeconds;
        output.WriteLine($"bytes: {bytes / 1e6:F1} MB in {seconds:F2} s = {bytes / 1e6 / seconds:F1} MB/s");
        Assert.Equal(bytes + 20, bytesCorpus.Stats.TrainTokens + bytesCorpus.Stats.ValidationTokens);
    }
}
