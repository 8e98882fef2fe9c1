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
    static int StringsPerVocab => RandomText.StringsPerVocab;
    readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    [Theory]
    [MemberData(nameof(VocabCases.All), MemberType = typeof(VocabCases))]
    public void Random_strings_give_llama_cpp_ids(string vocab)
    {
        NativeApi.llama_empty_call();
        var tok = VocabCases.Get(vocab);
        string gguf = vocab is "llama-bpe" or "qwen2" or "tok512" ? WriteVocabOnlyGguf(tok.Data) : VocabCases.LlamaCpp(vocab);
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(gguf) { VocabOnly = true });

        var rng = new Random(1234 + vocab.Length);
        var failures = new List<string>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < StringsPerVocab; i++)
        {
            string text = RandomText.Next(rng);
            int[] expected = Array.ConvertAll(weights.Tokenize(text, false, false, Encoding.UTF8), t => (int)t);
            int[] got = tok.Encode(text);
            if (!got.AsSpan().SequenceEqual(expected))
                failures.Add($"{System.Text.Json.JsonSerializer.Serialize(text)}\n  llama.cpp {VocabCases.Show(expected)}\n  ours      {VocabCases.Show(got)}");
        }
        output.WriteLine($"{vocab}: {StringsPerVocab - failures.Count}/{StringsPerVocab} random strings identical ({clock.Elapsed.TotalSeconds:F1} s)");
        foreach (string f in failures.Take(5)) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{vocab}: {failures.Count}/{StringsPerVocab} differ; first:\n{string.Join("\n", failures.Take(3))}");
    }

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("phi-3")]
    [InlineData("gpt-2")]
    [InlineData("deepseek-llm")]
    [InlineData("falcon")]
    [InlineData("llama-bpe")]
    [InlineData("qwen2")]
    public void Special_tokens_in_text_split_as_in_llama_cpp(string vocab)
    {
        NativeApi.llama_empty_call();
        var tok = VocabCases.Get(vocab);
        string gguf = vocab is "llama-bpe" or "qwen2" ? WriteVocabOnlyGguf(tok.Data) : VocabCases.LlamaCpp(vocab);
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(gguf) { VocabOnly = true });
        var specials = Enumerable.Range(0, tok.VocabSize)
            .Where(i => tok.GetTokenType(i) is TokenType.Control or TokenType.UserDefined).Select(tok.TokenText).ToArray();
        var rng = new Random(77);
        int failures = 0;
        const int N = 100;
        for (int i = 0; i < N; i++)
        {
            var sb = new StringBuilder();
            for (int k = rng.Next(1, 5); k > 0; k--)
                sb.Append(specials[rng.Next(specials.Length)]).Append(rng.Next(3) == 0 ? " " : "").Append(RandomText.Next(rng));
            string text = sb.ToString();
            foreach (bool special in new[] { true, false })
            {
                int[] expected = Array.ConvertAll(weights.Tokenize(text, false, special, Encoding.UTF8), t => (int)t);
                int[] got = tok.Encode(text, parseSpecial: special);
                if (got.AsSpan().SequenceEqual(expected)) continue;
                if (failures++ < 3)
                    output.WriteLine($"special={special} {System.Text.Json.JsonSerializer.Serialize(text)}\n  llama.cpp {VocabCases.Show(expected)}\n  ours      {VocabCases.Show(got)}");
            }
        }
        output.WriteLine($"{vocab}: {2 * N - failures}/{2 * N} texts with special tokens identical");
        Assert.Equal(0, failures);
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
