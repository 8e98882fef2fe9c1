// edgelm run --lora and edgelm merge end to end on a tiny model: greedy text from base + adapter is
// the merged model's text, :0 is the base, and a bad adapter is one clear line naming the file.
// perplexity --lora scores as the merged model does; trace --lora --compare BASE shows where the adapter acts.
using System.Text.Json;
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tensors;
using EdgeLM.Tests.Models.Lora;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Cli;

public sealed class LoraCliTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Run_with_lora_writes_what_the_merged_model_writes()
    {
        var shape = new RandomModelShape("llama");
        string basePath = _dir.File("base.gguf"), adapter = _dir.File("adapter.gguf"), merged = _dir.File("merged.gguf");
        RandomModel.Write(basePath, shape, GgmlType.F32, seed: 14);
        var lora = LoraTestFiles.Random(shape, rank: 4, alpha: 16, seed: 91);
        LoraTestFiles.WriteGguf(lora, adapter);
        string peft = _dir.File("peft");
        LoraTestFiles.WritePeft(lora, peft, shape);

        var m = CliRunner.Run("merge", basePath, adapter, merged, "--scale", "0.8");
        Assert.True(m.ExitCode == 0, m.StdErr);
        Assert.True(File.Exists(merged));

        string[] greedy = ["-p", "w1 w2 w3", "-n", "16", "--temp", "0", "-t", "2"];
        var withLora = CliRunner.Run(["run", basePath, "--lora", adapter + ":0.8", .. greedy]);
        var fromMerged = CliRunner.Run(["run", merged, .. greedy]);
        var plain = CliRunner.Run(["run", basePath, .. greedy]);
        var off = CliRunner.Run(["run", basePath, "--lora", adapter + ":0", .. greedy]);
        Assert.True(withLora.ExitCode == 0, withLora.StdErr);
        Assert.Contains("LoRA adapter", withLora.StdErr);
        Assert.Equal(fromMerged.StdOut, withLora.StdOut);
        Assert.Equal(plain.StdOut, off.StdOut);
        Assert.NotEqual(plain.StdOut, withLora.StdOut);
        // The same adapter as a PEFT folder, applied and merged.
        var withPeft = CliRunner.Run(["run", basePath, "--lora", peft + ":0.8", .. greedy]);
        Assert.True(withPeft.ExitCode == 0, withPeft.StdErr);
        Assert.Equal(fromMerged.StdOut, withPeft.StdOut);
    }

    [Fact]
    public void Perplexity_and_trace_take_lora()
    {
        var shape = new RandomModelShape("llama");
        string basePath = _dir.File("base.gguf"), adapter = _dir.File("adapter.gguf"), merged = _dir.File("merged.gguf");
        RandomModel.Write(basePath, shape, GgmlType.F32, seed: 16);
        LoraTestFiles.WriteGguf(LoraTestFiles.Random(shape, rank: 4, alpha: 16, seed: 92), adapter);
        Assert.Equal(0, CliRunner.Run("merge", basePath, adapter, merged, "--scale", "0.5").ExitCode);
        string text = _dir.File("text.txt");
        File.WriteAllText(text, string.Join(' ', Enumerable.Range(0, 200).Select(i => $"w{i * 7 % 40}")));

        double Ppl(params string[] args)
        {
            var r = CliRunner.Run(args);
            Assert.True(r.ExitCode == 0, r.StdErr);
            using var doc = JsonDocument.Parse(r.StdOut);
            return doc.RootElement.GetProperty("ppl").GetDouble();
        }
        string[] common = [text, "--ctx", "32", "--json", "-ctk", "f32", "-ctv", "f32"];
        double plain = Ppl(["perplexity", basePath, .. common]);
        double off = Ppl(["perplexity", basePath, .. common, "--lora", adapter + ":0"]);
        double applied = Ppl(["perplexity", basePath, .. common, "--lora", adapter + ":0.5"]);
        double fromMerged = Ppl(["perplexity", merged, .. common]);
        Assert.Equal(plain, off);
        // Applied and merged differ only by float rounding of W + s·BA against W·x + s·B(A·x).
        const double roundingOnly = 1e-4;
        Assert.True(Math.Abs(applied / fromMerged - 1) < roundingOnly, $"applied {applied}, merged {fromMerged}");
        Assert.True(Math.Abs(applied / plain - 1) > 100 * roundingOnly, $"the adapter changed nothing: {applied} vs {plain}");

        int? PartedAt(string scale)
        {
            var r = CliRunner.Run("trace", basePath, "-p", "w1 w2 w3", "--lora", adapter + scale, "--compare", basePath, "--tolerance", "1e-6", "--json");
            Assert.True(r.ExitCode == 0, r.StdErr);
            using var doc = JsonDocument.Parse(r.StdOut);
            Assert.Equal(adapter, doc.RootElement.GetProperty("lora")[0].GetProperty("path").GetString());
            var p = doc.RootElement.GetProperty("first_parted_layer");
            return p.ValueKind == JsonValueKind.Null ? null : p.GetInt32();
        }
        Assert.Equal(0, PartedAt(":1"));
        Assert.Null(PartedAt(":0"));
    }

    [Fact]
    public void Bad_adapter_and_merge_help()
    {
        string basePath = _dir.File("base.gguf"), adapter = _dir.File("qwen.gguf");
        RandomModel.Write(basePath, new RandomModelShape("llama"), GgmlType.F32, seed: 15);
        LoraTestFiles.WriteGguf(LoraTestFiles.Random(new RandomModelShape("qwen2"), 2, 2, 1, "attn_q"), adapter);
        var run = CliRunner.Run("run", basePath, "--lora", adapter, "-n", "2");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("error:", run.StdErr);
        Assert.Contains("qwen.gguf", run.StdErr);
        var merge = CliRunner.Run("merge", basePath, adapter, _dir.File("out.gguf"));
        Assert.Equal(1, merge.ExitCode);
        Assert.Contains("qwen.gguf", merge.StdErr);
        Assert.False(File.Exists(_dir.File("out.gguf")));
        var help = CliRunner.Run("merge", "--help");
        Assert.Contains("requantized", help.StdOut);
    }

    [Theory]
    [InlineData("a.gguf", "a.gguf", 1f)]
    [InlineData("a.gguf:0.5", "a.gguf", 0.5f)]
    [InlineData("dir/peft:-1", "dir/peft", -1f)]
    [InlineData("odd:name", "odd:name", 1f)]
    public void Lora_flag_parses_path_and_scale(string text, string path, float scale)
    {
        var r = LoraRequest.Parse(text);
        Assert.Equal(path, r.Path);
        Assert.Equal(scale, r.Scale);
    }
}
