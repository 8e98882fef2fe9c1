// A model written as GGUF and as its Hugging Face safetensors twin (via edgelm convert) gives the
// same logits: the llama twin's Q/K rows are un-permuted on the way out and run with rotate-half
// RoPE on the way in, so this also checks that the two orderings agree.
using EdgeLM.Models;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models;

public class SafetensorsTwinTests
{
    /// <summary>Same F32 weights; only the RoPE formulation differs (pairs vs halves), which reorders
    /// the same float operations within each head.</summary>
    const float RelativeTolerance = 1e-5f;

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void Safetensors_twin_gives_the_same_logits_as_the_gguf(string arch)
    {
        using var dir = new TempDir();
        string gguf = dir.File("m.gguf"), folder = dir.File("hf");
        RandomModel.Write(gguf, new RandomModelShape(arch, HeadDim: arch == "qwen3" ? 32 : 16, Tied: arch == "qwen2"), GgmlType.F32, seed: 2);
        var r = CliRunner.Run("convert", gguf, folder);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.True(File.Exists(Path.Combine(folder, "config.json")));

        int[] prompt = [1, 300, 265, 270, 310, 259, 299, 280];
        var fromGguf = EngineHarness.Logits(gguf, prompt);
        var fromFolder = EngineHarness.Logits(folder, prompt);
        var (max, pos, idx, scale) = EngineHarness.Compare(fromFolder, fromGguf);
        Assert.True(max <= RelativeTolerance * scale, $"{arch}: max |diff| {max} at position {pos}, token {idx}");
    }
}
