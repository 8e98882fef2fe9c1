// The bad-file corpus: small valid GGUF, safetensors, llama2.c and Hugging Face files generated
// here, then thousands of corrupted variants of each (see BadFileCorpus). Every variant must open
// or be refused with InvalidModelFileException naming the file; never another exception, a hang or
// an outsized allocation.
using System.Text;
using EdgeLM.Formats.Gguf;
using EdgeLM.Formats.Llama2c;
using EdgeLM.Formats.Safetensors;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Formats;

public class BadFileCorpusTests(ITestOutputHelper output)
{
    /// <summary>Generous for a few thousand opens of kilobyte files on a shared 2-core machine; a hang is unbounded.</summary>
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    const int RandomMutationsPerFormat = 300;

    static byte[] Noise(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    static float[] Floats(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
    }

    internal static byte[] ValidGguf(string path)
    {
        new GgufWriter()
            .Set("general.architecture", "llama")
            .Set("general.name", "corpus")
            .Set("general.alignment", 64u)
            .Set("llama.block_count", 1u)
            .Set("a.f32", 0.5f)
            .Set("a.bool", true)
            .Set("a.strings", ["x", "yz", ""])
            .Set("a.ints", [1, -2, 3])
            .Set("a.u64", GgufValue.Of(ulong.MaxValue))
            .AddTensor("a", Floats(16, 1), 8, 2)
            .AddTensor("b", GgmlType.F16, [32], Noise(64, 2))
            .AddTensor("c", GgmlType.Q8_0, [32, 2], Noise(68, 3))
            .Write(path);
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void Gguf_variants_open_or_are_refused_by_name()
    {
        using var dir = new TempDir();
        string path = dir.File("corpus.gguf");
        byte[] valid = ValidGguf(path);
        long dataOffset;
        using (var f = GgufFile.Open(path)) dataOffset = f.DataOffset;
        var variants = BadFileCorpus.Truncations(valid, (int)dataOffset + 8, 5)
            .Concat(BadFileCorpus.RandomMutations(valid, RandomMutationsPerFormat, 11, limitTo: (int)dataOffset))
            .Concat(BadFileCorpus.RandomMutations(valid, RandomMutationsPerFormat / 3, 12))
            .Concat(BadFileCorpus.HugeFields(valid, 0, (int)dataOffset));
        var r = BadFileCorpus.Run(variants, path, v => File.WriteAllBytes(path, v.Bytes),
            () => new SourceProbe(GgufModelSource.Open(path)), path, Timeout);
        output.WriteLine(r.ToString());
        Assert.True(r.Count > 2000, r.ToString());
    }

    [Fact]
    public void Safetensors_variants_open_or_are_refused_by_name()
    {
        using var dir = new TempDir();
        string path = dir.File("corpus.safetensors");
        new SafetensorsWriter()
            .SetMetadata("format", "pt")
            .AddTensor("a", Floats(12, 4), 3, 4)
            .AddTensor("b", GgmlType.F16, [2, 2, 2], s => s.Write(Noise(16, 5)))
            .AddTensor("c", GgmlType.BF16, [6], s => s.Write(Noise(12, 6)))
            .AddTensor("s", [1f])
            .Write(path);
        byte[] valid = File.ReadAllBytes(path);
        int headerLength = (int)BitConverter.ToUInt64(valid);
        string header = Encoding.UTF8.GetString(valid, 8, headerLength);
        byte[] data = valid[(8 + headerLength)..];
        byte[] Rebuild(string json) => SafetensorsTests.Raw(json, data);
        var dtypeSwaps = new[] { "F64", "I32", "U8", "BOOL", "F8_E4M3", "f32", "" }
            .SelectMany(d => new[] { "F32", "F16", "BF16" }.Select(s => new Variant($"dtype {s} -> {d}", Rebuild(header.Replace($"\"{s}\"", $"\"{d}\"")))));
        var variants = BadFileCorpus.Truncations(valid, 8 + headerLength + 8, 3)
            .Concat(BadFileCorpus.RandomMutations(valid, RandomMutationsPerFormat, 21, limitTo: 8 + headerLength))
            .Concat(BadFileCorpus.RandomMutations(valid, RandomMutationsPerFormat / 3, 22))
            .Concat(BadFileCorpus.HugeFields(valid, 0, 16))
            .Concat(BadFileCorpus.JsonNumberSwaps(header, Rebuild))
            .Concat(dtypeSwaps);
        var r = BadFileCorpus.Run(variants, path, v => File.WriteAllBytes(path, v.Bytes),
            () => new SafetensorsProbe(SafetensorsFile.Open(path)), path, Timeout);
        output.WriteLine(r.ToString());
        Assert.True(r.Count > 1000, r.ToString());
    }

    internal static byte[] ValidLlama2c(int vocabSign = 1)
    {
        // dim 8, hidden 12, 2 layers, 2 heads, 1 kv head, vocab 10, seq_len 4.
        var c = new Llama2cConfig(8, 12, 2, 2, 1, 10, 4, vocabSign > 0);
        long floats = (Llama2cModelSource.ExpectedFileSize(c) - Llama2cModelSource.HeaderBytes) / 4;
        int[] header = [8, 12, 2, 2, 1, 10 * vocabSign, 4];
        return [.. header.SelectMany(BitConverter.GetBytes), .. Floats((int)floats, 7).SelectMany(BitConverter.GetBytes)];
    }

    [Fact]
    public void Llama2c_variants_open_or_are_refused_by_name()
    {
        using var dir = new TempDir();
        string path = dir.File("corpus.bin");
        byte[] shared = ValidLlama2c(), unshared = ValidLlama2c(-1);
        File.WriteAllBytes(path, unshared);
        using (var m = Llama2cModelSource.Open(path)) Assert.Contains(m.Tensors, t => t.Name == "output.weight");
        var variants = BadFileCorpus.Truncations(shared, 64, 4)
            .Concat(BadFileCorpus.RandomMutations(shared, RandomMutationsPerFormat, 31, limitTo: Llama2cModelSource.HeaderBytes))
            .Concat(BadFileCorpus.RandomMutations(unshared, RandomMutationsPerFormat / 3, 32))
            .Concat(BadFileCorpus.HugeFields(shared, 0, Llama2cModelSource.HeaderBytes))
            .Concat(BadFileCorpus.HugeFields(unshared, 0, Llama2cModelSource.HeaderBytes));
        var r = BadFileCorpus.Run(variants, path, v => File.WriteAllBytes(path, v.Bytes),
            () => new SourceProbe(Llama2cModelSource.Open(path)), path, Timeout);
        output.WriteLine(r.ToString());
        Assert.True(r.Count > 500, r.ToString());
    }

    [Fact]
    public void Hugging_face_folder_variants_open_or_are_refused_by_name()
    {
        using var dir = new TempDir();
        HfModelTests.WriteFolder(dir.Path, HfModelTests.LlamaConfig, HfModelTests.HfTensors());
        string config = dir.File("config.json"), weights = dir.File(SafetensorsCheckpoint.SingleFileName);
        string configText = File.ReadAllText(config);
        byte[] validWeights = File.ReadAllBytes(weights);
        int headerEnd = 8 + (int)BitConverter.ToUInt64(validWeights);
        // Config variants are tagged "c:", weight variants "w:"; each restores the other file.
        var configVariants = BadFileCorpus.JsonNumberSwaps(configText, Encoding.UTF8.GetBytes)
            .Concat(BadFileCorpus.RandomMutations(Encoding.UTF8.GetBytes(configText), 100, 41))
            .Concat(BadFileCorpus.Truncations(Encoding.UTF8.GetBytes(configText), 0, 17))
            .Select(v => v with { What = "c:" + v.What });
        var weightVariants = BadFileCorpus.RandomMutations(validWeights, 100, 42, limitTo: headerEnd)
            .Select(v => v with { What = "w:" + v.What });
        byte[] validConfig = Encoding.UTF8.GetBytes(configText);
        void Place(Variant v)
        {
            bool isConfig = v.What.StartsWith("c:", StringComparison.Ordinal);
            File.WriteAllBytes(config, isConfig ? v.Bytes : validConfig);
            File.WriteAllBytes(weights, isConfig ? validWeights : v.Bytes);
        }
        var r = BadFileCorpus.Run(configVariants.Concat(weightVariants), dir.Path, Place,
            () => new SourceProbe(SafetensorsModelSource.Open(dir.Path)), dir.Path, Timeout);
        output.WriteLine(r.ToString());
        Assert.True(r.Count > 300, r.ToString());
    }

    [Fact]
    public void Sharded_index_variants_open_or_are_refused_by_name()
    {
        using var dir = new TempDir();
        HfModelTests.WriteFolder(dir.Path, HfModelTests.LlamaConfig, HfModelTests.HfTensors(), maxShard: 6000);
        string index = dir.File(SafetensorsCheckpoint.IndexFileName);
        byte[] valid = File.ReadAllBytes(index);
        var variants = BadFileCorpus.RandomMutations(valid, 150, 51)
            .Concat(BadFileCorpus.Truncations(valid, 0, 23))
            .Concat(BadFileCorpus.JsonNumberSwaps(Encoding.UTF8.GetString(valid), Encoding.UTF8.GetBytes))
            .Append(new Variant("shard renamed", Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(valid).Replace("00002-of", "00009-of"))))
            .Append(new Variant("tensor moved to another shard", Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(valid).Replace("\"model-00001-of", "\"model-00002-of"))));
        var r = BadFileCorpus.Run(variants, index, v => File.WriteAllBytes(index, v.Bytes),
            () => new SourceProbe(SafetensorsModelSource.Open(dir.Path)), dir.Path, Timeout);
        output.WriteLine(r.ToString());
        Assert.True(r.Refused > 100, r.ToString());
    }

    sealed class SafetensorsProbe(SafetensorsFile file) : IModelSourceOrFile
    {
        public void TouchAll()
        {
            int sum = 0;
            foreach (var t in file.Tensors)
            {
                foreach (byte b in file.TensorData(t)) sum += b;
            }
            GC.KeepAlive(sum);
        }

        public void Dispose() => file.Dispose();
    }
}
