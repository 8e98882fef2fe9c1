using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models;

public class ArchitectureRegistryTests
{
    [Fact]
    public void An_unsupported_architecture_is_refused_with_the_list_of_supported_ones()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        var w = new GgufWriter().Set("general.architecture", "mamba");
        w.AddTensor("token_embd.weight", new float[64 * 8], 64, 8);
        w.Write(path);
        var e = Assert.Throws<InvalidModelFileException>(() => DecoderModel.Load(ModelSources.Open(path)));
        Assert.Contains("'mamba' is not supported", e.Message);
        Assert.Contains("llama, qwen2, qwen3", e.Message);
    }

    [Fact]
    public void A_tensor_of_the_wrong_shape_is_named()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, new RandomModelShape("llama"));
        using var f = GgufFile.Open(path);
        var w = new GgufWriter();
        foreach (var (k, v) in f.MetadataList) w.Set(k, v);
        foreach (var t in f.Tensors)
        {
            var dims = t.Name == "blk.1.ffn_up.weight" ? [t.Dimensions[0], t.Dimensions[1] - 32] : t.Dimensions;
            var data = f.TensorData(t)[..(int)(dims.Aggregate(1L, (a, b) => a * b) * 4)].ToArray();
            w.AddTensor(t.Name, t.Type, dims, data);
        }
        string bad = dir.File("bad.gguf");
        w.Write(bad);
        var e = Assert.Throws<InvalidModelFileException>(() => DecoderModel.Load(ModelSources.Open(bad)));
        Assert.Contains("blk.1.ffn_up.weight", e.Message);
    }
}
