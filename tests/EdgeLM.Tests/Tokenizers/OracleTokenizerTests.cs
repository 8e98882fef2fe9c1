// Random strings tokenized by llama.cpp (LLamaSharp, vocab-only load) and by us must give the same
// ids. The llama3 and qwen3 tokenizer.json vocabularies and llama2.c's tok512.bin go through
// TokenizerData.WriteTo first, so the same test shows that llama.cpp reads the GGUF we write.
using System.Text;
using EdgeLM.Formats.Gguf;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using LLama;
using LLama.Common;
using LLama.Native;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Tokenizers;

public sealed class OracleTokenizerTests(ITestOutputHelper output) : IDisposable
{
    const int StringsPerVocab = 300;
    readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("phi-3")]
    [InlineData("gpt-2")]
    [InlineData("deepseek-llm")]
    [InlineData("deepseek-coder")]
    [InlineData("falcon")]
    [InlineData("llama-bpe")]
    [InlineData("qwen2")]
    [InlineData("tok512")]
    public void Random_strings_give_llama_cpp_ids(string vocab)
    {
        NativeApi.llama_empty_call();
        var tok = VocabCases.Get(vocab);
        string gguf = vocab is "llama-bpe" or "qwen2" or "tok512" ? WriteVocabOnlyGguf(tok.Data) : VocabCases.LlamaCpp(vocab);
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(gguf) { VocabOnly = true });

        var rng = new Random(1234 + vocab.Length);
        var failures = new List<string>();
        for (int i = 0; i < StringsPerVocab; i++)
        {
            string text = RandomText.Next(rng);
            int[] expected = Array.ConvertAll(weights.Tokenize(text, false, false, Encoding.UTF8), t => (int)t);
            int[] got = tok.Encode(text);
            if (!got.AsSpan().SequenceEqual(expected))
                failures.Add($"{System.Text.Json.JsonSerializer.Serialize(text)}\n  llama.cpp {VocabCases.Show(expected)}\n  ours      {VocabCases.Show(got)}");
        }
        output.WriteLine($"{vocab}: {StringsPerVocab - failures.Count}/{StringsPerVocab} random strings identical");
        foreach (string f in failures.Take(5)) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{vocab}: {failures.Count}/{StringsPerVocab} differ; first:\n{string.Join("\n", failures.Take(3))}");
    }

    /// <summary>A GGUF holding only the vocabulary and the few llama hyper-parameters llama.cpp requires to open a file.</summary>
    string WriteVocabOnlyGguf(TokenizerData data)
    {
        var w = new GgufWriter()
            .Set("general.architecture", "llama")
            .Set("general.name", "vocab")
            .Set("llama.block_count", 1u)
            .Set("llama.context_length", 4096u)
            .Set("llama.embedding_length", 64u)
            .Set("llama.feed_forward_length", 128u)
            .Set("llama.attention.head_count", 1u)
            .Set("llama.attention.head_count_kv", 1u)
            .Set("llama.attention.layer_norm_rms_epsilon", 1e-5f)
            .Set("llama.rope.dimension_count", 64u);
        data.WriteTo(w);
        string path = _tmp.File("vocab.gguf");
        w.Write(path);
        return path;
    }
}
