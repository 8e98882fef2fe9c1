using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Formats;

public class GgufRoundTripTests
{
    [Fact]
    public void Written_metadata_and_tensors_read_back_unchanged()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        float[] data = Enumerable.Range(0, 64).Select(i => i * 0.5f).ToArray();
        new GgufWriter()
            .Set("general.architecture", "llama")
            .Set("a.u32", 7u)
            .Set("a.f32", 1.5f)
            .Set("a.bool", true)
            .Set("a.strings", ["x", "héllo", ""])
            .Set("a.floats", [1f, 2f])
            .Set("a.ints", [3, -4])
            .Set("a.u64", GgufValue.Of(ulong.MaxValue))
            .Set("a.f64", GgufValue.Of(2.25))
            .AddTensor("t", data, 32, 2)
            .Write(path);

        using var f = GgufFile.Open(path);
        Assert.Equal(3u, f.Version);
        Assert.Equal("llama", f.GetString("general.architecture"));
        Assert.Equal(7, f.GetInteger("a.u32"));
        Assert.Equal(1.5, f.GetNumber("a.f32"));
        Assert.True(f.GetBool("a.bool"));
        Assert.Equal(["x", "héllo", ""], f.GetArray<string>("a.strings")!);
        Assert.Equal([1f, 2f], f.GetArray<float>("a.floats")!);
        Assert.Equal([3, -4], f.GetInt32Array("a.ints")!);
        Assert.Equal(ulong.MaxValue, (ulong)f.Metadata["a.u64"].Value);
        Assert.Equal(2.25, f.GetNumber("a.f64"));
        var t = f.GetTensor("t");
        Assert.Equal(GgmlType.F32, t.Type);
        Assert.Equal([32L, 2L], t.Dimensions);
        Assert.Equal(0, t.Offset % f.Alignment);
        Assert.Equal(data, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(f.TensorData(t)).ToArray());
    }

    [Fact]
    public void Truncated_file_names_the_tensor_that_runs_past_the_end()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        new GgufWriter().AddTensor("blk.0.attn_q.weight", new float[256], 64, 4).Write(path);
        byte[] bytes = System.IO.File.ReadAllBytes(path);
        System.IO.File.WriteAllBytes(path, bytes[..^100]);
        var e = Assert.Throws<InvalidModelFileException>(() => GgufFile.Open(path));
        Assert.Contains("blk.0.attn_q.weight", e.Message);
        Assert.Contains(path, e.Message);
    }
}

public class GgufWriterCancellationTests
{
    [Fact]
    public void A_cancelled_write_leaves_neither_the_file_nor_a_temporary()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        using var cts = new CancellationTokenSource();
        var w = new GgufWriter()
            .AddTensor("a", GgmlType.F32, [4], s => { s.Write(new byte[16]); cts.Cancel(); })
            .AddTensor("b", GgmlType.F32, [4], s => s.Write(new byte[16]));
        Assert.ThrowsAny<OperationCanceledException>(() => w.Write(path, cts.Token));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
