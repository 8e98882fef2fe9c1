// `edgelm finetune` end to end on the shared byte-level base: the LoRA run writes the GGUF adapter
// and the PEFT folder (readable, with every targeted tensor), --full writes a GGUF the training code
// loads back with the base's vocabulary, and a bad target is one clear error line.
using System.Text;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models.Lora;
using EdgeLM.Tests.Support;
using EdgeLM.Training;

namespace EdgeLM.Tests.Training.Lora;

[Collection(PoemsCollection.Name)]
public class FinetuneCliTests(PoemsFixture f)
{
    string PoemsFile()
    {
        string path = f.File("poems.txt");
        if (!File.Exists(path))
            File.WriteAllText(path, PoemsFixture.PoemText(TestData.File("corpus", "zh", "poet.tang.1000.json")), new UTF8Encoding(false));
        return path;
    }

    [Fact]
    public void Lora_writes_the_gguf_adapter_and_the_peft_folder()
    {
        string dir = f.File("cli-lora");
        var r = CliRunner.Run("finetune", f.BasePath, "--data", PoemsFile(), "--out", dir, "--steps", "4", "--batch", "2", "--ctx", "32",
            "--lora-rank", "4", "--targets", "q,v,down", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("step 4/4", r.StdErr, StringComparison.Ordinal);
        using (var g = GgufFile.Open(Path.Combine(dir, "adapter.gguf")))
        {
            Assert.Equal("lora", g.GetString("adapter.type"));
            Assert.Equal(2 * 3 * 2, g.Tensors.Count); // layers × targets × (a, b)
            Assert.Equal([192L, 4L], g.GetTensor("blk.1.ffn_down.weight.lora_a").Dimensions); // [ffn, rank]
            Assert.Equal([4L, 64L], g.GetTensor("blk.1.ffn_down.weight.lora_b").Dimensions); // [rank, n_embd]
        }
        Assert.True(File.Exists(Path.Combine(dir, LoraPeftWriter.WeightsFile)));
        Assert.Contains("\"q_proj\"", File.ReadAllText(Path.Combine(dir, LoraPeftWriter.ConfigFile)), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp*"));
    }

    [Fact]
    public void Stream_weights_trains_the_same_adapter_as_the_mapped_base()
    {
        // Streaming changes where the frozen bytes come from, not one number: the adapters are the same file.
        string[] common = ["--data", PoemsFile(), "--steps", "3", "--batch", "2", "--ctx", "32", "--lora-rank", "4", "--targets", "q,v,down",
            "--threads", "1", "--checkpoint", "--tiled-loss"];
        string mapped = f.File("cli-mapped"), streamed = f.File("cli-streamed");
        var a = CliRunner.Run(["finetune", f.BasePath, "--out", mapped, .. common]);
        var b = CliRunner.Run(["finetune", f.BasePath, "--out", streamed, "--stream-weights", .. common]);
        Assert.True(a.ExitCode == 0, a.StdErr);
        Assert.True(b.ExitCode == 0, b.StdErr);
        Assert.Contains("read from the file tile by tile", b.StdErr, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(Path.Combine(mapped, "adapter.gguf")), File.ReadAllBytes(Path.Combine(streamed, "adapter.gguf")));
    }

    [Fact]
    public void Full_fine_tuning_writes_a_gguf_with_the_bases_vocabulary()
    {
        string dir = f.File("cli-full");
        var r = CliRunner.Run("finetune", f.BasePath, "--data", PoemsFile(), "--out", dir, "--full", "--steps", "3", "--batch", "2", "--ctx", "32",
            "--threads", "1");
        Assert.True(r.ExitCode == 0, r.StdErr);
        string path = Path.Combine(dir, "model.gguf");
        var tuned = TransformerGguf.Load(path, 1, 8);
        var baseModel = TransformerGguf.Load(f.BasePath, 1, 8);
        Assert.NotEqual(baseModel.Parameters.Data, tuned.Parameters.Data);
        Assert.Equal(ByteDataset.VocabSize, EdgeLM.Tokenizers.Tokenizer.Load(path).VocabSize);
    }

    [Fact]
    public void An_unknown_target_is_one_error_line_naming_the_known_ones()
    {
        var r = CliRunner.Run("finetune", f.BasePath, "--data", PoemsFile(), "--out", f.File("cli-bad"), "--targets", "q,wq");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unknown LoRA target 'wq'", r.StdErr, StringComparison.Ordinal);
        Assert.Contains("q,k,v,o,gate,up,down", r.StdErr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(f.File("cli-bad")));
    }
}

[Collection(PoemsCollection.Name)]
public class FinetuneCancelTests(PoemsFixture f)
{
    [Fact]
    public async Task Ctrl_c_exits_130_and_writes_no_file()
    {
        string data = f.File("cancel.txt");
        File.WriteAllText(data, PoemsFixture.PoemText(TestData.File("corpus", "zh", "poet.tang.2000.json")), new UTF8Encoding(false));
        string dir = f.File("cli-cancel");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "EdgeLM.Cli.dll"), "finetune", f.BasePath, "--data", data, "--out", dir,
            "--steps", "100000", "--batch", "2", "--ctx", "32", "--threads", "1" })
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        // Wait for the first progress line, so the signal arrives mid-training.
        var seen = new StringBuilder();
        var buffer = new char[256];
        while (!seen.ToString().Contains("step 1/", StringComparison.Ordinal))
        {
            int n = p.StandardError.Read(buffer, 0, buffer.Length);
            if (n == 0) break;
            seen.Append(buffer, 0, n);
        }
        // SIGTERM takes Ctrl+C's path in Program.cs; SIGINT may arrive ignored when the test host runs in the background.
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            kill.WaitForExit();
        string rest = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(1)), "edgelm did not stop after SIGTERM");
        Assert.Equal(130, p.ExitCode);
        Assert.Contains("cancelled", rest, StringComparison.Ordinal);
        Assert.Equal("", await stdout);
        Assert.False(Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any(), "files were written");
    }
}
