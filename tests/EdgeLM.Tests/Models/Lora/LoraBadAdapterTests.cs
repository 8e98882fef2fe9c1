// Hostile and mismatched adapters fail with InvalidModelFileException naming the file and the tensor
// or key: wrong architecture, wrong shapes, a target the base lacks, half a pair, not an adapter, a
// truncated file, a PEFT folder with a broken config.
using EdgeLM.Formats;
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models.Lora;

public sealed class LoraBadAdapterTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly RandomModelShape _shape = new("llama");
    readonly string _base;

    public LoraBadAdapterTests()
    {
        _base = _dir.File("base.gguf");
        RandomModel.Write(_base, _shape, GgmlType.F32, seed: 13);
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Reads the adapter file and applies it to the base; returns the error.</summary>
    InvalidModelFileException Fail(string path)
    {
        using var model = DecoderModel.Load(ModelSources.Open(_base));
        return Assert.Throws<InvalidModelFileException>(() => model.UseAdapters([new ScaledLora(LoraFiles.Open(path, model.Config), 1f, path)]));
    }

    string Write(LoraAdapter a, string name, Action<EdgeLM.Formats.Gguf.GgufWriter>? edit = null)
    {
        string p = _dir.File(name);
        LoraTestFiles.WriteGguf(a, p, edit);
        return p;
    }

    [Fact]
    public void Wrong_architecture_is_named()
    {
        var a = LoraTestFiles.Random(_shape with { Arch = "qwen2" }, 2, 2, 1, "attn_q");
        var e = Fail(Write(a, "qwen.gguf"));
        Assert.Contains("qwen.gguf", e.Message);
        Assert.Contains("'qwen2'", e.Message);
    }

    [Fact]
    public void Wrong_shape_names_the_tensor()
    {
        var a = LoraTestFiles.Random(_shape with { Dim = 32, Heads = 2, KvHeads = 2 }, 2, 2, 1, "attn_v");
        var e = Fail(Write(a, "narrow.gguf"));
        Assert.Contains("blk.0.attn_v.weight.lora_a", e.Message);
        Assert.Contains("narrow.gguf", e.Message);
    }

    [Fact]
    public void Missing_target_names_the_tensor()
    {
        var a = LoraTestFiles.Random(_shape with { Layers = 3 }, 2, 2, 1, "ffn_up");
        var e = Fail(Write(a, "deep.gguf"));
        Assert.Contains("blk.2.ffn_up.weight", e.Message);
    }

    [Fact]
    public void Half_a_pair_and_a_transposed_b_are_refused()
    {
        var a = LoraTestFiles.Random(_shape, 2, 2, 1, "attn_q");
        var t = a.Tensors[0];
        string half = Write(new LoraAdapter("llama", 2, []), "half.gguf", w => w.AddTensor(t.Target + ".lora_a", t.A, t.In, t.Rank));
        Assert.Contains("'blk.0.attn_q.weight.lora_b' is missing", Fail(half).Message);
        string transposed = Write(new LoraAdapter("llama", 2, []), "transposed.gguf", w => w
            .AddTensor(t.Target + ".lora_a", t.A, t.In, t.Rank).AddTensor(t.Target + ".lora_b", t.B, t.Out, t.Rank));
        Assert.Contains("lora_b", Fail(transposed).Message);
    }

    [Fact]
    public void A_model_is_not_an_adapter()
    {
        var e = Fail(_base);
        Assert.Contains("general.type", e.Message);
    }

    [Fact]
    public void Truncated_file_is_refused()
    {
        var a = LoraTestFiles.Random(_shape, 4, 4, 1);
        string p = Write(a, "cut.gguf");
        var bytes = File.ReadAllBytes(p);
        File.WriteAllBytes(p, bytes[..(bytes.Length - 100)]);
        var e = Fail(p);
        Assert.Contains("cut.gguf", e.Message);
    }

    [Fact]
    public void Broken_peft_config_and_unknown_tensor_names_are_named()
    {
        var a = LoraTestFiles.Random(_shape, 2, 2, 1, "attn_q");
        string peft = _dir.File("peft");
        LoraTestFiles.WritePeft(a, peft, _shape);
        string config = Path.Combine(peft, "adapter_config.json");
        File.WriteAllText(config, """{"peft_type": "LORA", "r": "eight"}""");
        Assert.Contains("'r'", Fail(peft).Message);
        File.WriteAllText(config, """{"peft_type": "LORA", "r": 2, "use_dora": true}""");
        Assert.Contains("use_dora", Fail(peft).Message);
        File.WriteAllText(config, """{"peft_type": "LORA", "r": 3, "lora_alpha": 2}""");
        Assert.Contains("expected [3, in]", Fail(peft).Message);
        File.Delete(Path.Combine(peft, "adapter_model.safetensors"));
        Assert.Contains("adapter_model.safetensors", Fail(peft).Message);
    }
}
