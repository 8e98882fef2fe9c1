// edgelm tokenize / detokenize as separate processes: llama.cpp's own test cases (ids from its .out
// file) through stdin, every tokenizer file kind, and the errors a user can cause.
using System.Text;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Tokenizers;

public class TokenizerCliTests
{
    static readonly string SpmVocab = VocabCases.LlamaCpp("llama-spm");

    [Fact]
    public void Tokenize_gives_llama_cpp_ids_for_its_test_cases_and_detokenize_gives_the_text_back()
    {
        var cases = VocabCases.Load("llama-spm");
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = 2 }, c =>
        {
            var r = CliRunner.RunWithInput(c.Text, "tokenize", SpmVocab);
            string expected = VocabCases.Show(c.Ids);
            if (r.ExitCode != 0 || r.StdOut != expected + "\n")
                failures.Add($"tokenize {System.Text.Json.JsonSerializer.Serialize(c.Text)}: exit {r.ExitCode} '{r.StdOut.TrimEnd()}' expected '{expected}' {r.StdErr}");
            var back = CliRunner.RunWithInput(expected, "detokenize", SpmVocab);
            if (back.ExitCode != 0 || back.StdOut != c.Text)
                failures.Add($"detokenize {expected}: '{back.StdOut}' expected {System.Text.Json.JsonSerializer.Serialize(c.Text)} {back.StdErr}");
        });
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(5)));
    }

    [Fact]
    public void Every_tokenizer_kind_loads_and_the_flags_do_what_they_say()
    {
        string qwenFolder = Path.GetDirectoryName(TestData.File("tokenizers", "hf", "qwen3", "tokenizer.json"))!;
        string text = "Hello world<|im_end|>";
        var qwen = VocabCases.Get("qwen2");
        var plain = CliRunner.RunWithInput(text, "tokenize", Path.Combine(qwenFolder, "tokenizer.json"));
        Assert.Equal(VocabCases.Show(qwen.Encode(text)) + "\n", plain.StdOut);
        var special = CliRunner.RunWithInput(text, "tokenize", qwenFolder, "--special", "--json");
        Assert.Equal($"[{string.Join(',', qwen.Encode(text, parseSpecial: true))}]\n", special.StdOut);
        Assert.EndsWith(",151645]\n", special.StdOut); // <|im_end|> as one token

        string tok512 = TestData.File("llama2c", "tok512.bin");
        var bos = CliRunner.RunWithInput("Once upon a time", "tokenize", tok512, "--bos");
        Assert.StartsWith("1 ", bos.StdOut);
        var noBos = CliRunner.RunWithInput("Once upon a time", "tokenize", tok512);
        Assert.Equal(bos.StdOut[2..], noBos.StdOut);

        var back = CliRunner.RunWithInput($"[{string.Join(", ", qwen.Encode(text, parseSpecial: true))}]", "detokenize", qwenFolder, "--special");
        Assert.Equal(text, back.StdOut);
        var hidden = CliRunner.RunWithInput(VocabCases.Show(qwen.Encode(text, parseSpecial: true)), "detokenize", qwenFolder);
        Assert.Equal("Hello world", hidden.StdOut);
    }

    [Fact]
    public void Text_from_a_file_is_read_as_bytes()
    {
        using var tmp = new TempDir();
        string file = tmp.File("in.txt");
        File.WriteAllText(file, "  tabs\tand 中文 😀\n", new UTF8Encoding(false));
        var fromFile = CliRunner.Run("tokenize", SpmVocab, "--file", file);
        var fromStdin = CliRunner.RunWithInput("  tabs\tand 中文 😀\n", "tokenize", SpmVocab);
        Assert.Equal(0, fromFile.ExitCode);
        Assert.Equal(fromStdin.StdOut, fromFile.StdOut);
    }

    [Fact]
    public void Invalid_utf8_and_bad_ids_are_clear_errors()
    {
        using var tmp = new TempDir();
        string file = tmp.File("bad.txt");
        File.WriteAllBytes(file, [(byte)'a', (byte)'b', (byte)'c', 0xE4, 0xB8, (byte)'d']); // a cut 3-byte sequence
        var bad = CliRunner.Run("tokenize", SpmVocab, "--file", file);
        Assert.Equal(1, bad.ExitCode);
        Assert.Empty(bad.StdOut);
        Assert.Contains("bad.txt", bad.StdErr);
        Assert.Contains("byte offset 3", bad.StdErr);

        var range = CliRunner.RunWithInput("1 2 32000", "detokenize", SpmVocab);
        Assert.Equal(1, range.ExitCode);
        Assert.Contains("id 32000", range.StdErr);
        Assert.Contains("32000 tokens", range.StdErr);
        var word = CliRunner.RunWithInput("1 two", "detokenize", SpmVocab);
        Assert.Equal(1, word.ExitCode);
        Assert.Contains("'two'", word.StdErr);
        var missing = CliRunner.RunWithInput("x", "tokenize", tmp.File("none.gguf"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("none.gguf", missing.StdErr);
    }
}
