// Loading with repack: true reads every matrix the products use that has no repacked layout into private
// memory (WeightMatrix.ReadIntoMemory): the same bytes as the file, read from the file (GGUF and safetensors
// sources) or copied through the mapping (any other source), so the logits are the mapped model's to the bit.
// An untied embedding, only looked up, stays mapped. MappedFile.Read checks its range.
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models;

public unsafe class InMemoryWeightsTests
{
    static readonly int[] Prompt = [RandomModel.Bos, 300, 265, 270, 310, 259, 299, 280];

    [Theory]
    [InlineData(GgmlType.BF16, true)]
    [InlineData(GgmlType.BF16, false)]
    [InlineData(GgmlType.F32, true)]
    [InlineData(GgmlType.Q4_1, false)] // no repacked layout for Q4_1 on any CPU
    public void Matrices_without_a_repacked_layout_are_read_into_memory_and_give_the_same_logits(GgmlType type, bool tied)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, new RandomModelShape("qwen2", Tied: tied), type, seed: 3);
        CheckAgainstMapped(path, () => ModelSources.Open(path));
    }

    [Fact]
    public void A_safetensors_folder_is_read_into_memory_from_its_shards()
    {
        using var dir = new TempDir();
        string gguf = dir.File("m.gguf"), folder = dir.File("hf");
        RandomModel.Write(gguf, new RandomModelShape("qwen2", Tied: true), GgmlType.F32, seed: 2);
        var r = CliRunner.Run("convert", gguf, folder);
        Assert.True(r.ExitCode == 0, r.StdErr);
        CheckAgainstMapped(folder, () => ModelSources.Open(folder));
    }

    [Fact]
    public void A_source_that_cannot_read_its_file_is_copied_through_the_mapping()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, new RandomModelShape("llama", Tied: false), GgmlType.BF16, seed: 4);
        CheckAgainstMapped(path, () => new MappedOnly(GgufModelSource.Open(path)));
    }

    [Fact]
    public void MappedFile_reads_the_bytes_at_an_address_and_refuses_a_range_outside_it()
    {
        using var dir = new TempDir();
        string path = dir.File("bytes.bin");
        var bytes = new byte[10_000];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        using var file = MappedFile.Open(path);
        var got = new byte[3_000];
        file.Read(file.Pointer + 7_000, got);
        Assert.Equal(bytes.AsSpan(7_000, 3_000).ToArray(), got);
        Assert.True(file.Contains(file.Pointer, 10_000));
        Assert.False(file.Contains(file.Pointer + 7_001, 3_000));
        Assert.False(file.Contains(file.Pointer - 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.Read(file.Pointer + 7_001, new byte[3_000]));
    }

    /// <summary>The model at path loaded mapped, and through <paramref name="open"/> with repack: true: every product
    /// matrix is repacked or in memory with the file's bytes, an untied embedding stays mapped, the logits are equal.</summary>
    static void CheckAgainstMapped(string path, Func<IModelSource> open)
    {
        using var plain = DecoderModel.Load(ModelSources.Open(path));
        using var loaded = DecoderModel.Load(open(), repack: true);
        CheckCopies(loaded.Weights, plain.Weights);
        var want = EngineHarness.Logits(plain, Prompt, maxBatch: 1);
        var got = EngineHarness.Logits(loaded, Prompt, maxBatch: 1);
        for (int t = 0; t < Prompt.Length; t++)
            Assert.Equal(want[t], got[t]);
    }

    static void CheckCopies(DecoderWeights w, DecoderWeights mapped)
    {
        var reference = mapped.Matrices().ToDictionary(m => m.Name);
        foreach (var m in w.Matrices())
        {
            bool lookupOnly = !w.TiedOutput && ReferenceEquals(m, w.TokenEmbd);
            Assert.False(reference[m.Name].IsInMemory);
            Assert.True(m.IsInMemory == (!lookupOnly && !m.IsRepacked), $"{m.Name}: in memory {m.IsInMemory}, repacked {m.IsRepacked}");
            if (m.IsInMemory)
            {
                Assert.Equal(0, (long)m.Data % 4096);
                long size = m.RowBytes * m.Rows;
                Assert.True(new ReadOnlySpan<byte>(m.Data, (int)size).SequenceEqual(new ReadOnlySpan<byte>(reference[m.Name].Data, (int)size)), m.Name);
            }
        }
        Assert.Equal(w.Matrices().Where(m => m.IsInMemory).Sum(m => m.RowBytes * m.Rows), w.InMemoryBytes);
        Assert.True(w.InMemoryBytes > 0);
    }

    /// <summary>A source that only maps its file (the interface's TryRead, which declines).</summary>
    sealed class MappedOnly(IModelSource inner) : IModelSource
    {
        public string Path => inner.Path;
        public IReadOnlyDictionary<string, GgufValue> Metadata => inner.Metadata;
        public IReadOnlyList<TensorEntry> Tensors => inner.Tensors;
        public bool QkRotateHalf => inner.QkRotateHalf;
        public void Dispose() => inner.Dispose();
    }
}
