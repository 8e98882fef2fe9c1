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

    [Fact]
    public void Chat_corpus_load_rate_is_reported_for_a_stable_and_a_rewriting_template()
    {
        using var dir = new TempDir();
        string[] lines = File.ReadAllLines(TestData.File("corpus", "en", "tinyshakespeare.txt")).Where(l => l.Length > 0).ToArray();
        var sb = new System.Text.StringBuilder();
        int conversations = 400, k = 0;
        for (int c = 0; c < conversations; c++)
        {
            var messages = new List<object> { new { role = "system", content = "Answer in verse." } };
            for (int turn = 0; turn < 3; turn++)
            {
                messages.Add(new { role = "user", content = lines[k++ % lines.Length] + " " + lines[k++ % lines.Length] });
                messages.Add(new { role = "assistant", content = string.Join("\n", lines.Skip(k % lines.Length).Take(6)) });
                k += 6;
            }
            sb.Append(System.Text.Json.JsonSerializer.Serialize(new { messages })).Append('\n');
        }
        File.WriteAllText(dir.File("chat.jsonl"), sb.ToString());
        long bytes = new FileInfo(dir.File("chat.jsonl")).Length;

        var qwen = CorpusTokenizer.Load(TestData.File("tokenizers", "hf", "qwen3"));
        string qwen25 = File.ReadAllText(Path.Combine(TestData.RepoRoot, "tests", "EdgeLM.Tests", "Templates", "Golden", "qwen2.5.jinja"));
        foreach (var (name, template) in new[] { ("qwen2.5 (prefix rule)", EdgeLM.Templates.ChatTemplate.Parse(qwen25)), ("qwen3 (fallback rule)", qwen.Template!) })
        {
            var clock = Stopwatch.StartNew();
            var (train, validation, stats) = TrainingCorpus.Load([dir.Path], qwen, new CorpusOptions(ChatTemplate: template));
            double seconds = clock.Elapsed.TotalSeconds;
            output.WriteLine($"{name}: {conversations} conversations, {bytes / 1e6:F2} MB, {stats.TrainTokens + stats.ValidationTokens} tokens " +
                             $"({stats.MaskedTrainTokens} of {stats.TrainTokens} train tokens in the loss) in {seconds:F2} s = {conversations / seconds:F0} conversations/s");
            Assert.Equal(conversations, stats.TrainUnits + stats.ValidationUnits);
            Assert.Equal(3 * stats.TrainUnits, CorpusFormatTests.MaskedRuns(train, qwen).Count);
            Assert.NotNull(validation.LossMask);
        }
    }
}
