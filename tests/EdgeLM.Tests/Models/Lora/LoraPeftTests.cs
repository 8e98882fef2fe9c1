// PEFT adapter folders read as the GGUF adapter they are equivalent to. For llama the q/k lora_B rows
// must be permuted as the HF→GGUF converter permutes q/k weights; that is checked against a base that
// never was permuted: the model's Hugging Face safetensors twin (rotate-half RoPE), where the PEFT
// factors apply as they are. qwen2 has no permutation, so its PEFT and GGUF adapters must agree outright.
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Models.Lora;

public class LoraPeftTests(ITestOutputHelper output)
{
    /// <summary>Same F32 factors; only summation order (and, for the twin, the RoPE formulation) differs.</summary>
    const float F32RelativeTolerance = 1e-4f;
    /// <summary>BF16 keeps 8 bits of mantissa: a factor moves by up to 2⁻⁹ of itself, and so may the adapter's share of a logit.</summary>
    const float Bf16RelativeTolerance = 2e-2f;

    static readonly int[] Prompt = [RandomModel.Bos, 300, 265, 270, 310, 259, 299, 280, 281, 300];

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void Peft_folder_gives_the_logits_of_the_equivalent_gguf_adapter(string arch)
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape(arch, Heads: 4, KvHeads: 2, HeadDim: 16);
        string basePath = dir.File("base.gguf"), gguf = dir.File("adapter.gguf"), peft = dir.File("peft");
        RandomModel.Write(basePath, shape, GgmlType.F32, seed: 9);
        var adapter = LoraTestFiles.Random(shape, rank: 4, alpha: 8, seed: 61, "attn_q", "attn_k", "attn_v", "attn_output", "ffn_up", "output");
        LoraTestFiles.WriteGguf(adapter, gguf);
        LoraTestFiles.WritePeft(adapter, peft, shape);

        using var model = DecoderModel.Load(ModelSources.Open(basePath));
        var fromPeft = LoraFiles.Open(peft, model.Config);
        var fromGguf = LoraFiles.Open(gguf, model.Config);
        Assert.Equal(fromGguf.Alpha, fromPeft.Alpha);
        Assert.Equal(fromGguf.Tensors.Select(t => t.Target), fromPeft.Tensors.Select(t => t.Target));
        model.UseAdapters(LoraTestFiles.One(fromPeft));
        var peftLogits = LoraTestFiles.Logits(model, Prompt);
        model.UseAdapters(LoraTestFiles.One(fromGguf));
        var ggufLogits = LoraTestFiles.Logits(model, Prompt);
        AssertClose($"{arch} PEFT vs GGUF adapter", peftLogits, ggufLogits, F32RelativeTolerance);
    }

    [Fact]
    public void Llama_peft_adapter_on_the_gguf_base_matches_it_on_the_unpermuted_safetensors_twin()
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape("llama", Heads: 4, KvHeads: 2, HeadDim: 16);
        string basePath = dir.File("base.gguf"), twin = dir.File("hf"), peft = dir.File("peft");
        RandomModel.Write(basePath, shape, GgmlType.F32, seed: 10);
        using (var src = ModelSources.Open(basePath)) EdgeLM.Formats.HuggingFace.HfFolderWriter.Write(src, twin);
        var adapter = LoraTestFiles.Random(shape, rank: 3, alpha: 6, seed: 71, "attn_q", "attn_k");
        LoraTestFiles.WritePeft(adapter, peft, shape);

        using var onGguf = DecoderModel.Load(ModelSources.Open(basePath));
        onGguf.UseAdapters(LoraTestFiles.One(LoraFiles.Open(peft, onGguf.Config)));
        using var onTwin = DecoderModel.Load(ModelSources.Open(twin));
        Assert.True(onTwin.Source.QkRotateHalf);
        onTwin.UseAdapters(LoraTestFiles.One(LoraFiles.Open(peft, onTwin.Config)));
        var a = LoraTestFiles.Logits(onGguf, Prompt);
        var b = LoraTestFiles.Logits(onTwin, Prompt);
        AssertClose("llama PEFT: GGUF base vs safetensors twin", a, b, F32RelativeTolerance);
        // A q/k adapter applied with the wrong row order would not survive RoPE unchanged.
        onGguf.UseAdapters([]);
        var (moved, _, _, range) = EngineHarness.Compare(a, LoraTestFiles.Logits(onGguf, Prompt));
        Assert.True(moved > 0.02f * range, $"the adapter moved logits by only {moved} of {range}");
    }

    [Fact]
    public void Bf16_peft_factors_are_read()
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape("qwen2");
        string basePath = dir.File("base.gguf"), peft = dir.File("peft");
        RandomModel.Write(basePath, shape, GgmlType.F32, seed: 12);
        var adapter = LoraTestFiles.Random(shape, rank: 2, alpha: 2, seed: 81, "attn_v", "ffn_down");
        LoraTestFiles.WritePeft(adapter, peft, shape, GgmlType.BF16);
        using var model = DecoderModel.Load(ModelSources.Open(basePath));
        // The folder can also be named by either of its files.
        var read = LoraFiles.Open(Path.Combine(peft, "adapter_config.json"), model.Config);
        model.UseAdapters(LoraTestFiles.One(read));
        var bf16 = LoraTestFiles.Logits(model, Prompt);
        model.UseAdapters(LoraTestFiles.One(adapter));
        var f32 = LoraTestFiles.Logits(model, Prompt);
        AssertClose("BF16 vs F32 factors", bf16, f32, Bf16RelativeTolerance);
    }

    void AssertClose(string what, float[][] actual, float[][] expected, float relative)
    {
        var (max, pos, idx, scale) = EngineHarness.Compare(actual, expected);
        output.WriteLine($"{what}: max |diff| {max:G4} at position {pos}, token {idx}; logit scale {scale:G4}");
        Assert.True(max <= relative * scale, $"{what}: max |diff| {max} at position {pos}, token {idx} (scale {scale})");
    }
}
