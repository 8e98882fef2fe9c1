// The edgelm commands end to end, as separate processes: results on stdout, diagnostics on stderr,
// clear errors with a non-zero exit code.
using System.Text.Json;
using EdgeLM.Models;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Cli;

public sealed class CliFixture : IDisposable
{
    public CliFixture()
    {
        Model = Dir.File("random.gguf");
        RandomModel.Write(Model, new RandomModelShape("qwen2", Dim: 64, Tied: true), GgmlType.Q8_0, seed: 3);
    }

    public TempDir Dir { get; } = new();
    public string Model { get; }
    public void Dispose() => Dir.Dispose();
}

public class CliTests(CliFixture f) : IClassFixture<CliFixture>
{
    [Fact]
    public void Run_with_a_seed_is_reproducible_and_greedy_is_deterministic()
    {
        var a = CliRunner.Run("run", f.Model, "-p", "w1 w2 w3", "-n", "12", "--seed", "7", "--temp", "1.0");
        var b = CliRunner.Run("run", f.Model, "-p", "w1 w2 w3", "-n", "12", "--seed", "7", "--temp", "1.0");
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.StdOut, b.StdOut);
        Assert.NotEmpty(a.StdOut.Trim());
        Assert.Contains("loaded", a.StdErr);
        Assert.DoesNotContain("loaded", a.StdOut);
        var g1 = CliRunner.Run("run", f.Model, "-n", "12", "--temp", "0");
        var g2 = CliRunner.Run("run", f.Model, "-n", "12", "--temp", "0", "--seed", "99");
        Assert.Equal(g1.StdOut, g2.StdOut);
    }

    [Fact]
    public void A_prompt_longer_than_the_context_is_a_clear_error()
    {
        string prompt = string.Join(' ', Enumerable.Repeat("w5", 400));
        var r = CliRunner.Run("run", f.Model, "-p", prompt, "--ctx", "64");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("context length is 64", r.StdErr);
        Assert.Empty(r.StdOut);
    }

    [Fact]
    public void Missing_and_corrupt_models_are_named_in_the_error()
    {
        var missing = CliRunner.Run("run", f.Dir.File("nope.gguf"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("nope.gguf", missing.StdErr);
        string bad = f.Dir.File("bad.gguf");
        File.WriteAllBytes(bad, File.ReadAllBytes(f.Model)[..5000]);
        var corrupt = CliRunner.Run("info", bad);
        Assert.Equal(1, corrupt.ExitCode);
        Assert.Contains("bad.gguf", corrupt.StdErr);
        Assert.Matches("truncated|past the end", corrupt.StdErr);
    }

    [Fact]
    public void Info_json_describes_the_model()
    {
        var r = CliRunner.Run("info", f.Model, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.StdOut);
        var root = doc.RootElement;
        Assert.Equal("qwen2", root.GetProperty("architecture").GetString());
        Assert.Equal(2, root.GetProperty("block_count").GetInt32());
        Assert.True(root.GetProperty("tied_output").GetBoolean());
        Assert.Equal(1 + 2 * 7, root.GetProperty("tensor_types").GetProperty("Q8_0").GetProperty("tensors").GetInt32());
        Assert.True(root.GetProperty("parameters").GetInt64() > 0);
    }

    [Fact]
    public void Perplexity_json_has_ppl_and_tokens()
    {
        string text = f.Dir.File("text.txt");
        File.WriteAllText(text, string.Join(' ', Enumerable.Range(0, 300).Select(i => $"w{i % 50}")));
        var r = CliRunner.Run("perplexity", f.Model, text, "--ctx", "64", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.StdOut);
        double ppl = doc.RootElement.GetProperty("ppl").GetDouble();
        Assert.True(ppl > 1 && double.IsFinite(ppl), $"ppl {ppl}");
        Assert.True(doc.RootElement.GetProperty("tokens").GetInt32() >= 300);
    }

    [Fact]
    public void Trace_reports_every_layer_and_compare_finds_where_a_quantized_copy_parts()
    {
        var r = CliRunner.Run("trace", f.Model, "-p", "w1 w2", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.StdOut);
        var layers = doc.RootElement.GetProperty("layers");
        Assert.Equal(2, layers.GetArrayLength());
        Assert.Equal(5, layers[0].GetProperty("top").GetArrayLength());
        Assert.True(layers[1].GetProperty("rms").GetDouble() > 0);

        string q4 = f.Dir.File("q4.gguf");
        Assert.Equal(0, CliRunner.Run("convert", f.Model, q4, "--type", "Q4_0").ExitCode);
        var same = CliRunner.Run("trace", f.Model, "-p", "w1 w2", "--compare", f.Model, "--json");
        using (var d = JsonDocument.Parse(same.StdOut))
            Assert.Equal(JsonValueKind.Null, d.RootElement.GetProperty("first_parted_layer").ValueKind);
        var parted = CliRunner.Run("trace", f.Model, "-p", "w1 w2", "--compare", q4, "--tolerance", "0.001", "--json");
        using (var d = JsonDocument.Parse(parted.StdOut))
            Assert.Equal(0, d.RootElement.GetProperty("first_parted_layer").GetInt32());
    }

    [Fact]
    public void Bench_json_reports_speeds_memory_and_kernel()
    {
        var r = CliRunner.Run("bench", f.Model, "-p", "16", "-n", "8", "--repeats", "2", "--threads", "1", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        var o = doc.RootElement;
        Assert.True(o.GetProperty("prefill_tok_s").GetDouble() > 0);
        Assert.True(o.GetProperty("decode_tok_s").GetDouble() > 0);
        Assert.True(o.GetProperty("load_s").GetDouble() > 0);
        Assert.True(o.GetProperty("peak_rss_mb").GetDouble() > 1);
        Assert.Equal(1, o.GetProperty("threads").GetInt32());
        Assert.Contains(o.GetProperty("kernel").GetString(), new[] { "avx512", "avx2", "neon", "vector128", "scalar" });
    }

    [Fact]
    public void Bench_no_repack_keeps_the_mapped_weights()
    {
        string path = f.Dir.File("q4_0.gguf");
        RandomModel.Write(path, new RandomModelShape("qwen2", Dim: 64, Tied: true), GgmlType.Q4_0, seed: 4);
        double Repacked(params string[] extra)
        {
            var r = CliRunner.Run(["bench", path, "-p", "4", "-n", "4", "--repeats", "1", "--threads", "1", "--json", .. extra]);
            Assert.True(r.ExitCode == 0, r.StdErr);
            using var doc = JsonDocument.Parse(r.StdOut);
            return doc.RootElement.GetProperty("repacked_mb").GetDouble();
        }
        // Q4_0 is repacked where the CPU has the kernel for it (AVX-512 BW or AVX2 + FMA), and never with --no-repack.
        Assert.Equal(EdgeLM.Quantization.Q4_0Repack.Supported, Repacked() > 0);
        Assert.Equal(0, Repacked("--no-repack"));
    }

    [Fact]
    public void Chat_renders_the_models_own_template_with_its_special_tokens()
    {
        string path = f.Dir.File("chatml.gguf");
        const string ChatMl = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
        RandomModel.Write(path, new RandomModelShape("qwen2", Dim: 64, Tied: true), GgmlType.Q8_0, seed: 4, extra: w =>
        {
            // The last two word tokens become ChatML's control tokens.
            var tokens = Enumerable.Range(0, 320).Select(i => i < 3 ? new[] { "<unk>", "<s>", "</s>" }[i]
                : i < RandomModel.FirstWordToken ? $"<0x{i - 3:X2}>" : $"\u2581w{i - RandomModel.FirstWordToken}").ToArray();
            var types = Enumerable.Range(0, 320).Select(i => i == 0 ? 2 : i < 3 ? 3 : i < RandomModel.FirstWordToken ? 6 : 1).ToArray();
            tokens[318] = "<|im_start|>"; types[318] = 3;
            tokens[319] = "<|im_end|>"; types[319] = 3;
            w.Set("tokenizer.ggml.tokens", tokens).Set("tokenizer.ggml.token_type", types)
             .Set("tokenizer.ggml.eos_token_id", 319u).Set("tokenizer.chat_template", ChatMl);
        });
        var r = CliRunner.RunWithInput("w1 w2\n/exit\n", "chat", path, "-n", "4", "--temp", "0", "--system", "be brief", "--verbose-prompt");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.DoesNotContain("no chat template", r.StdErr);
        Assert.Contains("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nw1 w2<|im_end|>\n<|im_start|>assistant\n", r.StdErr);
    }

    [Fact]
    public void Chat_answers_each_line_of_standard_input()
    {
        var r = CliRunner.RunWithInput("w1 w2\nw3\n/exit\n", "chat", f.Model, "-n", "5", "--temp", "0");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(2, r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }
}
