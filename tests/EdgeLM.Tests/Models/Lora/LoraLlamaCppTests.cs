// llama.cpp (through LLamaSharp: llama_adapter_lora_init + llama_set_adapter_lora) loads the same
// base and GGUF adapter and must give the engine's logits: the adapter file is read as llama.cpp reads
// it (names, [in, rank] / [rank, out] shapes, alpha / rank) and applied as build_lora_mm applies it.
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Models.Lora;

public class LoraLlamaCppTests(ITestOutputHelper output)
{
    /// <summary>F32 weights, F32 KV cache and F32 adapter on both sides: only summation order differs
    /// (as in LlamaCppParityTests).</summary>
    const float F32RelativeTolerance = 1e-4f;

    static readonly int[] Prompt = [RandomModel.Bos, 300, 265, 270, 310, 259, 299, 280, 281, 300, 301, 302, 263, 264];

    [Theory]
    [InlineData("llama", 1f)]
    [InlineData("qwen2", 0.6f)]
    [InlineData("qwen3", 1.3f)]
    public void Llama_cpp_with_the_gguf_adapter_gives_the_engines_logits(string arch, float scale)
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape(arch, HeadDim: arch == "qwen3" ? 32 : 16);
        string basePath = dir.File("base.gguf"), adapterPath = dir.File("adapter.gguf");
        RandomModel.Write(basePath, shape, GgmlType.F32, seed: 8);
        var adapter = LoraTestFiles.Random(shape, rank: 4, alpha: 16, seed: 51);
        LoraTestFiles.WriteGguf(adapter, adapterPath);

        var ours = LoraTestFiles.Logits(basePath, [new ScaledLora(LoraGgufReader.Read(adapterPath), scale, adapterPath)], Prompt, maxBatch: 5);
        var theirs = Logits(basePath, adapterPath, scale, Prompt);
        var (max, pos, idx, range) = EngineHarness.Compare(ours, theirs);
        output.WriteLine($"{arch}: max |diff| {max:G4} at position {pos}, token {idx}; logit scale {range:G4}");
        Assert.True(max <= F32RelativeTolerance * range, $"{arch}: max |diff| {max} at position {pos}, token {idx} (scale {range})");

        // And the adapter really changes llama.cpp's answer (so a no-op on both sides would fail).
        var plain = LlamaCppOracle.Logits(basePath, Prompt);
        var (moved, _, _, _) = EngineHarness.Compare(theirs, plain);
        Assert.True(moved > 0.05f * range, $"the adapter moved llama.cpp's logits by only {moved}");
    }

    /// <summary>A quantized base stays quantized under the adapter on both sides; the tolerance is
    /// QuantizedParityTests' (an 8-bit activation rounding step now and then differs and spreads).</summary>
    const float QuantizedRelativeTolerance = 0.03f;

    [Theory]
    [InlineData("llama", GgmlType.Q8_0)]
    [InlineData("qwen2", GgmlType.Q4_K)]
    public void Quantized_base_with_the_adapter_matches_llama_cpp(string arch, GgmlType type)
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape(arch, Dim: 256, Heads: 4, KvHeads: 2, HeadDim: 64, Ffn: 512);
        string basePath = dir.File("base.gguf"), adapterPath = dir.File("adapter.gguf");
        RandomModel.Write(basePath, shape, type, seed: 16);
        LoraTestFiles.WriteGguf(LoraTestFiles.Random(shape, rank: 8, alpha: 16, seed: 52), adapterPath);
        var ours = LoraTestFiles.Logits(basePath, [new ScaledLora(LoraGgufReader.Read(adapterPath), 1f, adapterPath)], Prompt, maxBatch: 5);
        var theirs = Logits(basePath, adapterPath, 1f, Prompt);
        var (max, pos, idx, range) = EngineHarness.Compare(ours, theirs);
        output.WriteLine($"{arch} {type}: max |diff| {max:G4} at position {pos}, token {idx}; logit scale {range:G4}");
        Assert.True(max <= QuantizedRelativeTolerance * range, $"{arch} {type}: max |diff| {max} at position {pos}, token {idx} (scale {range})");
    }

    static float[][] Logits(string model, string adapter, float scale, IReadOnlyList<int> tokens) =>
        LlamaCppOracle.Logits(model, tokens, loraPath: adapter, loraScale: scale);
}
