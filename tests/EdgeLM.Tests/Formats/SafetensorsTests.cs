// safetensors files: the writer's bytes against the reference library's own serialization test
// (huggingface/safetensors bindings/python/tests test_serialization: a 2x2 zero tensor serializes to
// '@' + 7 zero bytes + compact JSON + 4 spaces of padding + 16 data bytes), round trips of single
// and sharded checkpoints, and the reader's refusals, each naming the file and the tensor.
using System.Runtime.InteropServices;
using System.Text;
using EdgeLM.Formats;
using EdgeLM.Formats.Safetensors;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Formats;

public class SafetensorsTests
{
    /// <summary>Builds a file from a header JSON and data, as another writer might (no padding added).</summary>
    internal static byte[] Raw(string json, byte[] data)
    {
        byte[] h = Encoding.UTF8.GetBytes(json);
        return [.. BitConverter.GetBytes((ulong)h.Length), .. h, .. data];
    }

    [Fact]
    public void Writer_matches_the_reference_library_bytes()
    {
        using var dir = new TempDir();
        string path = dir.File("t.safetensors");
        new SafetensorsWriter().AddTensor("test", new float[4], 2, 2).Write(path);
        // The reference test's I32 expectation with the dtype renamed: same lengths, same padding.
        string json = "{\"test\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}    ";
        byte[] expected = [(byte)'@', 0, 0, 0, 0, 0, 0, 0, .. Encoding.ASCII.GetBytes(json), .. new byte[16]];
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void Reference_library_bytes_read_back_and_other_dtypes_are_refused_by_name()
    {
        using var dir = new TempDir();
        string path = dir.File("ref.safetensors");
        File.WriteAllBytes(path, Raw("{\"__metadata__\":{\"framework\":\"pt\"},\"test1\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}       ",
            [0, 0x3C, 0, 0x40, 0, 0xC0, 0, 0x7C]));
        using (var f = SafetensorsFile.Open(path))
        {
            Assert.Equal("pt", f.Metadata["framework"]);
            var t = Assert.Single(f.Tensors);
            Assert.Equal(GgmlType.F16, t.Type);
            Assert.Equal([2L, 2L], t.Shape);
            Assert.Equal(new Half[] { (Half)1, (Half)2, (Half)(-2), Half.PositiveInfinity }, MemoryMarshal.Cast<byte, Half>(f.TensorData(t)).ToArray());
        }
        File.WriteAllBytes(path, Raw("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}    ", new byte[16]));
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'test' has dtype I32", e.Message);
    }

    [Fact]
    public void Round_trip_keeps_names_types_shapes_data_and_alignment()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        float[] a = Enumerable.Range(0, 6).Select(i => i * 1.5f).ToArray();
        Half[] b = [(Half)1, (Half)(-3)];
        ushort[] c = [0x3F80, 0xC000, 0x4040]; // bf16 1, -2, 3
        new SafetensorsWriter()
            .SetMetadata("format", "pt")
            .AddTensor("a", a, 2, 3)
            .AddTensor("b", GgmlType.F16, [2], s => s.Write(MemoryMarshal.AsBytes(b.AsSpan())))
            .AddTensor("c.bf16", GgmlType.BF16, [3, 1], s => s.Write(MemoryMarshal.AsBytes(c.AsSpan())))
            .AddTensor("scalar", [7f])
            .Write(path);
        using var f = SafetensorsFile.Open(path);
        Assert.Equal(0, f.DataOffset % 8);
        Assert.Equal(["a", "b", "c.bf16", "scalar"], f.Tensors.Select(t => t.Name));
        Assert.Equal(a, MemoryMarshal.Cast<byte, float>(f.TensorData(f.GetTensor("a"))).ToArray());
        Assert.Equal([2L, 3L], f.GetTensor("a").Shape);
        Assert.Equal(b, MemoryMarshal.Cast<byte, Half>(f.TensorData(f.GetTensor("b"))).ToArray());
        Assert.Equal(c, MemoryMarshal.Cast<byte, ushort>(f.TensorData(f.GetTensor("c.bf16"))).ToArray());
        Assert.Equal(GgmlType.BF16, f.GetTensor("c.bf16").Type);
        Assert.Empty(f.GetTensor("scalar").Shape);
        Assert.Equal(7f, MemoryMarshal.Read<float>(f.TensorData(f.GetTensor("scalar"))));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp*"));
    }

    [Fact]
    public void Sharded_folder_has_an_index_and_reads_back_whole()
    {
        using var dir = new TempDir();
        var w = new SafetensorsWriter();
        var data = new Dictionary<string, float[]>();
        for (int i = 0; i < 5; i++)
        {
            data[$"t{i}"] = Enumerable.Range(0, 100).Select(x => x + 1000f * i).ToArray();
            w.AddTensor($"t{i}", data[$"t{i}"], 10, 10);
        }
        var files = w.WriteFolder(dir.Path, maxShardBytes: 1000); // 400 bytes each: two per shard
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            SafetensorsCheckpoint.IndexFileName], files);
        string index = File.ReadAllText(Path.Combine(dir.Path, SafetensorsCheckpoint.IndexFileName));
        Assert.Contains("\"total_size\": 2000", index);
        using var ck = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(3, ck.Shards.Count);
        foreach (var (name, values) in data)
        {
            var r = ck.Find(name)!.Value;
            Assert.Equal(values, MemoryMarshal.Cast<byte, float>(r.File.TensorData(r.Info)).ToArray());
        }
        Assert.Equal("model-00003-of-00003.safetensors", Path.GetFileName(ck.Find("t4")!.Value.File.Path));
    }

    [Fact]
    public void Small_folder_is_one_file_without_index()
    {
        using var dir = new TempDir();
        var files = new SafetensorsWriter().AddTensor("x", new float[4], 4).WriteFolder(dir.Path);
        Assert.Equal([SafetensorsCheckpoint.SingleFileName], files);
        using var ck = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Single(ck.Tensors);
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "needs 8 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "run past the end")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", "overflows")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "not a non-negative integer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "end before they begin")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "appears twice")]
    [InlineData("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", "dtype F64")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", "data_offsets")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", "not valid JSON")]
    [InlineData("[1,2]", "does not start with '{'")]
    public void Bad_headers_are_refused_with_the_reason(string json, string reason)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, Raw(json, new byte[8]));
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Header_length_is_checked_before_anything_is_read()
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(ulong.MaxValue), .. "{}"u8.ToArray()]);
        Assert.Contains("exceeds", Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path)).Message);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(1000UL), .. "{}"u8.ToArray()]);
        Assert.Contains("runs past the end", Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path)).Message);
    }

    [Fact]
    public void Index_problems_name_the_shard_or_tensor()
    {
        using var dir = new TempDir();
        new SafetensorsWriter().AddTensor("a", new float[2], 2).Write(dir.File("s1.safetensors"));
        string index = dir.File(SafetensorsCheckpoint.IndexFileName);
        void Check(string weightMap, string reason)
        {
            File.WriteAllText(index, "{\"metadata\":{},\"weight_map\":" + weightMap + "}");
            var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsCheckpoint.Open(dir.Path));
            Assert.Contains(reason, e.Message);
        }
        Check("{\"a\":\"missing.safetensors\"}", "shard 'missing.safetensors' listed in weight_map does not exist");
        Check("{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}", "weight_map puts tensor 'b' in shard 's1.safetensors', which does not hold it");
        Check("{\"a\":\"../s1.safetensors\"}", "not a plain file name");
        Check("{}", "weight_map is empty");
        Check("{\"a\":\"s1.safetensors\"", "not valid JSON");
        File.WriteAllText(index, "{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
        using var ck = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal("a", Assert.Single(ck.Tensors).Info.Name);
    }
}
