// The encoder's cost: the merge loops (and the WordPiece / Unigram searches) allocate nothing per token (scratch and heap are reused), and
// a GGUF written by WriteTo reads back to the same record.
using EdgeLM.Formats.Gguf;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Tokenizers;

public class EncodeCostTests(ITestOutputHelper output)
{
    // Per-call bookkeeping (fragment list, the byte-level regex views) is allowed; per-token garbage is not.
    // 2 bytes per token is far below the 16+ bytes any per-token object or string would cost.
    const double MaxAllocatedBytesPerToken = 2.0;

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("llama-bpe")]
    [InlineData("qwen2")]
    [InlineData("gpt-2")]
    [InlineData("wordpiece")]
    [InlineData("unigram")]
    public void Encoding_a_long_text_allocates_nothing_per_token(string vocab)
    {
        var tok = vocab is "wordpiece" or "unigram" ? new Tokenizer(WordPieceUnigramTests.Data(vocab)) : VocabCases.Get(vocab);
        string text = File.ReadAllText(TestData.File("llama2c", "tinystories_validation_100.txt"));
        var ids = new List<int>(100_000);
        tok.Encode(text, ids); // warm up scratch buffers
        ids.Clear();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        tok.Encode(text, ids);
        sw.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        double perToken = (double)allocated / ids.Count;
        output.WriteLine($"{vocab}: {text.Length} chars → {ids.Count} tokens in {sw.Elapsed.TotalMilliseconds:F1} ms " +
            $"({text.Length / sw.Elapsed.TotalSeconds / 1e6:F2} M chars/s), {allocated} bytes allocated ({perToken:F3} per token)");
        Assert.True(perToken < MaxAllocatedBytesPerToken, $"{perToken:F3} bytes allocated per token");
    }

    [Theory]
    [InlineData("phi-3")]
    [InlineData("qwen2")]
    public void WriteTo_then_FromGguf_gives_the_same_record(string vocab)
    {
        var data = VocabCases.Data(vocab);
        using var tmp = new TempDir();
        var w = new GgufWriter().Set("general.architecture", "llama");
        data.WriteTo(w);
        w.Write(tmp.File("v.gguf"));
        using var file = GgufFile.Open(tmp.File("v.gguf"));
        var back = TokenizerData.FromGguf(file);
        Assert.Equal(data.Tokens, back.Tokens);
        Assert.Equal(data.Types, back.Types);
        Assert.Equal(data.Scores, back.Scores);
        Assert.Equal(data.Merges, back.Merges);
        // GGUF cannot say "no BOS": an absent key reads as llama.cpp's default (11 for byte-level BPE).
        int bos = data.BosId >= 0 ? data.BosId : 11;
        Assert.Equal(data with { Tokens = back.Tokens, Types = back.Types, Scores = back.Scores, Merges = back.Merges, BosId = bos, ModelName = null },
            back with { ModelName = null });
    }
}
