// Exact ids against llama.cpp's own tokenizer test files, for every vocabulary family we support.
using EdgeLM.Tokenizers;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Tokenizers;

public class LlamaCppVocabTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(VocabCases.WithCases), MemberType = typeof(VocabCases))]
    public void Every_llama_cpp_test_case_gives_the_same_ids(string vocab)
    {
        var tok = VocabCases.Get(vocab);
        var cases = VocabCases.Load(vocab);
        var failures = new List<string>();
        foreach (var (text, expected) in cases)
        {
            int[] got = tok.Encode(text);
            if (!got.AsSpan().SequenceEqual(expected))
                failures.Add($"{System.Text.Json.JsonSerializer.Serialize(text)}\n  expected {VocabCases.Show(expected)}\n  got      {VocabCases.Show(got)}");
        }
        output.WriteLine($"{vocab}: {cases.Count - failures.Count}/{cases.Count} cases identical");
        foreach (string f in failures.Take(5)) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{vocab}: {failures.Count}/{cases.Count} cases differ; first:\n{string.Join("\n", failures.Take(3))}");
        Assert.Equal(46, cases.Count);
    }
}
