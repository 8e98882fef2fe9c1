// The validation split: whole units, deterministic for a seed, disjoint, the promised sizes.
using EdgeLM.Tests.Support;
using EdgeLM.Training.Data;

namespace EdgeLM.Tests.Training.Data;

public sealed class CorpusSplitTests
{
    static readonly ByteCorpusTokenizer Bytes = new();

    static string WriteDocs(TempDir dir, int n)
    {
        var lines = Enumerable.Range(0, n).Select(i => $"{{\"text\": \"document number {i}\"}}");
        File.WriteAllLines(dir.File("docs.jsonl"), lines);
        return dir.File("docs.jsonl");
    }

    /// <summary>The documents on one side, recovered by cutting the stream at BOS (1).</summary>
    static List<string> Documents(EdgeLM.Training.TokenSequence seq)
    {
        var docs = new List<string>();
        int start = 0;
        for (int i = 1; i <= seq.Length; i++)
        {
            if (i < seq.Length && seq.Tokens[i] != 1) continue;
            docs.Add(Bytes.Decode(seq.Tokens.AsSpan(start, i - start)));
            start = i;
        }
        return seq.Length == 0 ? [] : docs;
    }

    [Fact]
    public void Split_is_deterministic_disjoint_and_whole_documents()
    {
        using var dir = new TempDir();
        string file = WriteDocs(dir, 50);
        var a = TrainingCorpus.Load([file], Bytes, new CorpusOptions(Seed: 7));
        var b = TrainingCorpus.Load([file], Bytes, new CorpusOptions(Seed: 7));
        var c = TrainingCorpus.Load([file], Bytes, new CorpusOptions(Seed: 8));
        Assert.Equal(a.Validation.Tokens, b.Validation.Tokens);
        Assert.Equal(a.Train.Tokens, b.Train.Tokens);
        Assert.NotEqual(a.Validation.Tokens, c.Validation.Tokens);

        var train = Documents(a.Train);
        var validation = Documents(a.Validation);
        Assert.Equal(5, validation.Count); // 10 % of 50
        Assert.Equal(45, train.Count);
        Assert.Empty(train.Intersect(validation));
        var all = Enumerable.Range(0, 50).Select(i => $"document number {i}").ToHashSet();
        Assert.True(all.SetEquals(train.Concat(validation)));
        Assert.Equal(5, a.Stats.ValidationUnits);
    }

    [Theory]
    [InlineData(1, 0.1, 0)]
    [InlineData(2, 0.1, 1)]
    [InlineData(3, 0.9, 2)]
    [InlineData(20, 0.1, 2)]
    [InlineData(20, 0.0, 0)]
    [InlineData(1000, 0.25, 250)]
    public void Holds_out_round_fraction_at_least_one_never_all(int count, double fraction, int expected)
    {
        Assert.Equal(expected, TrainingCorpus.Split(count, fraction, seed: 1).Count(v => v));
    }
}
