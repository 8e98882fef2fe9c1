// karpathy's stories260K, a real pretrained model, through the whole tool: convert the llama2.c
// checkpoint to GGUF, then greedy decoding from BOS must print exactly the text llama2.c's own test
// expects, llama.cpp must decode the same ids from our GGUF, and perplexity must match the figure
// llama.cpp gives on the same text (shared/ORACLE.md).
using System.Text.Json;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.KnownAnswers;

public sealed class Stories260KFixture : IDisposable
{
    public Stories260KFixture()
    {
        Gguf = Dir.File("stories260K.gguf");
        var r = CliRunner.Run("convert", TestData.File("llama2c", "stories260K.bin"), Gguf, "--tokenizer", TestData.File("llama2c", "tok512.bin"));
        if (r.ExitCode != 0) throw new InvalidOperationException($"convert failed: {r.StdErr}");
    }

    public TempDir Dir { get; } = new();
    public string Gguf { get; }
    public void Dispose() => Dir.Dispose();
}

public class Stories260KTests(Stories260KFixture f) : IClassFixture<Stories260KFixture>
{
    /// <summary>llama.cpp's figure printed to three decimals (ORACLE.md: 6.178 over 20,034 tokens).</summary>
    const double PerplexityTolerance = 0.0005;

    static int[] ExpectedIds => File.ReadAllText(TestData.File("llama2c", "stories260K.greedy200.ids.txt"))
        .Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();

    [Fact]
    public void Greedy_run_from_BOS_prints_exactly_the_llama2c_answer()
    {
        var r = CliRunner.Run("run", f.Gguf, "--temp", "0", "-n", "200");
        Assert.Equal(0, r.ExitCode);
        string expected = File.ReadAllText(TestData.File("llama2c", "stories260K.greedy200.expected.txt"));
        Assert.Equal(expected + "\n", r.StdOut);
    }

    [Fact]
    public void Llama_cpp_decodes_the_same_ids_from_our_gguf()
    {
        Assert.Equal(ExpectedIds, LlamaCppOracle.Greedy(f.Gguf, [1], 200, context: 512));
    }

    [Fact]
    public void Perplexity_matches_llama_cpp_on_tinystories()
    {
        var r = CliRunner.Run("perplexity", f.Gguf, TestData.File("llama2c", "tinystories_validation_100.txt"), "--ctx", "128", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.StdOut);
        Assert.Equal(20034, doc.RootElement.GetProperty("tokens").GetInt32());
        Assert.Equal(6.178, doc.RootElement.GetProperty("ppl").GetDouble(), PerplexityTolerance);
    }

    [Fact]
    public void Quantized_copy_stays_close_and_trace_finds_no_early_parting_at_q8()
    {
        string q8 = f.Dir.File("q8.gguf");
        Assert.Equal(0, CliRunner.Run("convert", f.Gguf, q8, "--type", "Q8_0").ExitCode);
        var r = CliRunner.Run("trace", f.Gguf, "-p", "Once upon a time", "--compare", q8, "--tolerance", "0.05", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.StdOut);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("first_parted_layer").ValueKind);
        Assert.Equal(5, doc.RootElement.GetProperty("layers").GetArrayLength());
    }
}
