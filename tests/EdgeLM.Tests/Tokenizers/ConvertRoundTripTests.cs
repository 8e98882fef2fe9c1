// Tokenizers converted between GGUF metadata and tokenizer.json keep their ids. GGUF → tokenizer.json
// → our loader must give llama.cpp's ids (its .out files) on its test cases, and the same ids as the
// GGUF on random strings with and without special-token text; the tokenizer.json we write is then
// turned back into a vocabulary-only GGUF that llama.cpp itself loads and tokenizes identically.
// HF → GGUF likewise for the Llama 3 and Qwen3 tokenizer.json files. The CLI forms are run as a process.
using System.Text;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using LLama;
using LLama.Common;
using LLama.Native;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Tokenizers;

public sealed class ConvertRoundTripTests(ITestOutputHelper output) : IDisposable
{
    const int RandomStrings = 200;
    readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    public static TheoryData<string> GgufVocabs => new() { "llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "tok512" };

    [Theory]
    [MemberData(nameof(GgufVocabs))]
    public void Gguf_to_tokenizer_json_keeps_every_id_and_llama_cpp_reads_it_back(string vocab)
    {
        var original = VocabCases.Get(vocab);
        string dir = _tmp.File(vocab);
        TokenizerJson.WriteFolder(original.Data, dir);
        var back = new Tokenizer(TokenizerData.FromHuggingFace(Path.Combine(dir, TokenizerJson.JsonName)));
        AssertSameSettings(original.Data, back.Data);

        var failures = new List<string>();
        if (vocab != "tok512")
            foreach (var (text, ids) in VocabCases.Load(vocab)) Compare(failures, "case", text, ids, back.Encode(text));
        CompareRandom(original, back, failures);

        // tokenizer.json → vocabulary-only GGUF → llama.cpp: the full circle, checked by the oracle.
        string gguf = _tmp.File(vocab + ".gguf");
        back.Data.ToVocabOnlyGguf().Write(gguf);
        NativeApi.llama_empty_call();
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(gguf) { VocabOnly = true });
        var rng = new Random(99);
        for (int i = 0; i < RandomStrings / 2; i++)
        {
            string text = RandomText.Next(rng);
            Compare(failures, "llama.cpp", text, Array.ConvertAll(weights.Tokenize(text, false, false, Encoding.UTF8), t => (int)t), back.Encode(text));
        }
        output.WriteLine($"{vocab}: {failures.Count} differences");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));
    }

    [Theory]
    [InlineData("llama-bpe", "llama3")]
    [InlineData("qwen2", "qwen3")]
    public void Tokenizer_json_to_gguf_keeps_every_id(string vocab, string folder)
    {
        var original = VocabCases.Get(vocab);
        string gguf = _tmp.File(folder + ".gguf");
        original.Data.ToVocabOnlyGguf().Write(gguf);
        var back = Tokenizer.Load(gguf);
        AssertSameSettings(original.Data, back.Data);
        Assert.Equal(original.Data.ChatTemplate, back.Data.ChatTemplate);
        var failures = new List<string>();
        foreach (var (text, ids) in VocabCases.Load(vocab)) Compare(failures, "case", text, ids, back.Encode(text));
        CompareRandom(original, back, failures);

        // And back to tokenizer.json once more: the written file reads as the original did.
        string dir = _tmp.File(folder);
        TokenizerJson.WriteFolder(back.Data, dir);
        var again = new Tokenizer(TokenizerData.FromHuggingFace(Path.Combine(dir, TokenizerJson.JsonName)));
        AssertSameSettings(original.Data, again.Data);
        CompareRandom(original, again, failures);
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));
    }

    [Fact]
    public void A_llama_tokenizer_json_in_the_newer_metaspace_layout_reads_the_same()
    {
        // transformers ≥ 4.41 writes Llama-style tokenizers with no normalizer and a Metaspace
        // pre-tokenizer (prepend_scheme "first", split false) instead of Prepend + Replace.
        var original = VocabCases.Get("llama-spm");
        var json = System.Text.Json.Nodes.JsonNode.Parse(TokenizerJson.Write(original.Data))!.AsObject();
        json["normalizer"] = null;
        json["pre_tokenizer"] = System.Text.Json.Nodes.JsonNode.Parse("""{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}""");
        string dir = _tmp.File("metaspace");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, TokenizerJson.JsonName), json.ToJsonString());
        File.WriteAllBytes(Path.Combine(dir, TokenizerJson.ConfigName), TokenizerJson.WriteConfig(original.Data));
        var back = Tokenizer.Load(dir);
        Assert.True(back.Data.AddSpacePrefix);
        var failures = new List<string>();
        foreach (var (text, ids) in VocabCases.Load("llama-spm")) Compare(failures, "case", text, ids, back.Encode(text));
        CompareRandom(original, back, failures);
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));
    }

    [Fact]
    public void Convert_command_writes_tokenizer_json_from_gguf_and_gguf_from_tokenizer_json()
    {
        foreach (string vocab in (string[])["gpt-2", "llama-spm"])
        {
            string dir = _tmp.File("cli-" + vocab), gguf = _tmp.File("cli-" + vocab + ".gguf");
            var toJson = CliRunner.Run("convert", VocabCases.LlamaCpp(vocab), dir, "--to", "tokenizer.json");
            Assert.True(toJson.ExitCode == 0, toJson.StdErr);
            Assert.True(File.Exists(Path.Combine(dir, TokenizerJson.ConfigName)));
            var toGguf = CliRunner.Run("convert", Path.Combine(dir, TokenizerJson.JsonName), gguf);
            Assert.True(toGguf.ExitCode == 0, toGguf.StdErr);
            var (text, ids) = VocabCases.Load(vocab)[20];
            foreach (string source in (string[])[dir, gguf])
            {
                var r = CliRunner.RunWithInput(text, "tokenize", source);
                Assert.Equal(VocabCases.Show(ids) + "\n", r.StdOut);
            }
        }
        // A SentencePiece Unigram .model to a vocabulary-only GGUF (tokenizer.ggml.model "t5").
        string ugm = _tmp.File("unigram.gguf");
        var fromModel = CliRunner.Run("convert", MadeUpVocabs.UnigramModel, ugm);
        Assert.True(fromModel.ExitCode == 0, fromModel.StdErr);
        Assert.Contains("'t5'", fromModel.StdErr);
        string sample = VocabCases.Load("llama-spm")[20].Text;
        string expectedIds = VocabCases.Show(new Tokenizer(TokenizerData.FromSentencePieceModel(MadeUpVocabs.UnigramModel)).Encode(sample)) + "\n";
        Assert.Equal(expectedIds, CliRunner.RunWithInput(sample, "tokenize", ugm).StdOut);

        var bad = CliRunner.Run("convert", VocabCases.LlamaCpp("gpt-2"), _tmp.File("x"), "--to", "onnx");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("onnx", bad.StdErr);
    }

    [Fact]
    public void Gguf_model_to_hf_folder_writes_the_tokenizer_too()
    {
        string gguf = _tmp.File("stories.gguf"), folder = _tmp.File("stories-hf");
        var toGguf = CliRunner.Run("convert", TestData.File("llama2c", "stories260K.bin"), gguf, "--tokenizer", TestData.File("llama2c", "tok512.bin"));
        Assert.True(toGguf.ExitCode == 0, toGguf.StdErr);
        var toHf = CliRunner.Run("convert", gguf, folder);
        Assert.True(toHf.ExitCode == 0, toHf.StdErr);
        var original = VocabCases.Get("tok512");
        var back = Tokenizer.Load(folder);
        var failures = new List<string>();
        CompareRandom(original, back, failures);
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));
    }

    static void AssertSameSettings(TokenizerData a, TokenizerData b)
    {
        Assert.Equal(a.Model, b.Model);
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal((a.EosId, a.UnkId, a.PadId, a.AddBos, a.AddEos), (b.EosId, b.UnkId, b.PadId, b.AddBos, b.AddEos));
        // A GGUF cannot say "no BOS": llama.cpp then keeps its default (11 for BPE), and so do we.
        if (a.BosId >= 0) Assert.Equal(a.BosId, b.BosId);
        if (a.IsSentencePiece) Assert.Equal(a.AddSpacePrefix, b.AddSpacePrefix);
        else Assert.Equal(a.Pre, b.Pre);
    }

    /// <summary>Random strings, and random strings around special-token texts, with and without parse_special.</summary>
    static void CompareRandom(Tokenizer original, Tokenizer back, List<string> failures)
    {
        var specials = Enumerable.Range(0, original.VocabSize)
            .Where(i => original.GetTokenType(i) is TokenType.Control or TokenType.UserDefined).Select(original.TokenText).ToArray();
        var rng = new Random(4242);
        for (int i = 0; i < RandomStrings; i++)
        {
            string text = RandomText.Next(rng);
            if (specials.Length > 0 && i % 2 == 1) text = specials[rng.Next(specials.Length)] + text + specials[rng.Next(specials.Length)] + " x";
            Compare(failures, "random", text, original.Encode(text), back.Encode(text));
            Compare(failures, "special", text, original.Encode(text, parseSpecial: true), back.Encode(text, parseSpecial: true));
        }
    }

    static void Compare(List<string> failures, string what, string text, int[] expected, int[] got)
    {
        if (!got.AsSpan().SequenceEqual(expected))
            failures.Add($"{what} {System.Text.Json.JsonSerializer.Serialize(text)}\n  expected {VocabCases.Show(expected)}\n  got      {VocabCases.Show(got)}");
    }
}
