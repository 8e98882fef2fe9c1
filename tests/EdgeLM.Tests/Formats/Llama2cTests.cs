// llama2.c checkpoints: stories260K (header 64 172 5 8 4 512 512, shared classifier) opened as a
// model source; names, shapes and values checked against floats read from the file by offset
// arithmetic written out here, independently of the reader, in the order of run.c's memory_map_weights.
using System.Runtime.InteropServices;
using EdgeLM.Formats;
using EdgeLM.Formats.Llama2c;
using EdgeLM.Models;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Formats;

public class Llama2cTests
{
    static string Stories => TestData.File("llama2c", "stories260K.bin");

    // stories260K: dim 64, hidden 172, 5 layers, 8 heads, 4 kv heads, vocab 512, seq 512 (SOURCES.md).
    const int Dim = 64, Hidden = 172, Layers = 5, Heads = 8, KvHeads = 4, Vocab = 512, SeqLen = 512;
    const int HeadSize = Dim / Heads, KvDim = KvHeads * HeadSize;

    /// <summary>Float index (after the 28-byte header) of each array, in memory_map_weights order.</summary>
    static Dictionary<string, long> ArrayStarts()
    {
        (string Name, long Floats)[] arrays =
        [
            ("token_embedding_table", (long)Vocab * Dim),
            ("rms_att_weight", (long)Layers * Dim),
            ("wq", (long)Layers * Dim * Dim),
            ("wk", (long)Layers * Dim * KvDim),
            ("wv", (long)Layers * Dim * KvDim),
            ("wo", (long)Layers * Dim * Dim),
            ("rms_ffn_weight", (long)Layers * Dim),
            ("w1", (long)Layers * Dim * Hidden),
            ("w2", (long)Layers * Hidden * Dim),
            ("w3", (long)Layers * Dim * Hidden),
            ("rms_final_weight", Dim),
            ("freq_cis_real", (long)SeqLen * HeadSize / 2),
            ("freq_cis_imag", (long)SeqLen * HeadSize / 2),
            ("end", 0),
        ];
        var starts = new Dictionary<string, long>();
        long at = 0;
        foreach (var (name, n) in arrays)
        {
            starts[name] = at;
            at += n;
        }
        return starts;
    }

    static unsafe float At(TensorEntry t, long i) => ((float*)t.Data)[i];

    [Fact]
    public void Stories260K_header_metadata_and_shapes()
    {
        using var m = Llama2cModelSource.Open(Stories);
        Assert.Equal(new Llama2cConfig(Dim, Hidden, Layers, Heads, KvHeads, Vocab, SeqLen, true), m.Config);
        Assert.False(m.QkRotateHalf);
        Assert.Equal("llama", m.Metadata["general.architecture"].Value);
        Assert.Equal(512u, m.Metadata["llama.context_length"].Value);
        Assert.Equal(64u, m.Metadata["llama.embedding_length"].Value);
        Assert.Equal(172u, m.Metadata["llama.feed_forward_length"].Value);
        Assert.Equal(5u, m.Metadata["llama.block_count"].Value);
        Assert.Equal(8u, m.Metadata["llama.attention.head_count"].Value);
        Assert.Equal(4u, m.Metadata["llama.attention.head_count_kv"].Value);
        Assert.Equal(8u, m.Metadata["llama.rope.dimension_count"].Value);
        Assert.Equal(1e-5f, m.Metadata["llama.attention.layer_norm_rms_epsilon"].Value);
        Assert.Equal(10000f, m.Metadata["llama.rope.freq_base"].Value);

        var byName = m.Tensors.ToDictionary(t => t.Name);
        Assert.Equal(2 + 9 * Layers, byName.Count); // shared classifier: no output.weight
        Assert.False(byName.ContainsKey("output.weight"));
        Assert.Equal([Dim, Vocab], byName["token_embd.weight"].Dimensions);
        Assert.Equal([Dim], byName["output_norm.weight"].Dimensions);
        Assert.Equal([Dim, Dim], byName["blk.4.attn_q.weight"].Dimensions);
        Assert.Equal([Dim, KvDim], byName["blk.4.attn_k.weight"].Dimensions);
        Assert.Equal([Dim, KvDim], byName["blk.0.attn_v.weight"].Dimensions);
        Assert.Equal([Dim, Dim], byName["blk.0.attn_output.weight"].Dimensions);
        Assert.Equal([Dim, Hidden], byName["blk.2.ffn_gate.weight"].Dimensions);
        Assert.Equal([Hidden, Dim], byName["blk.2.ffn_down.weight"].Dimensions);
        Assert.Equal([Dim, Hidden], byName["blk.2.ffn_up.weight"].Dimensions);
        Assert.Equal([Dim], byName["blk.3.ffn_norm.weight"].Dimensions);
        foreach (var t in m.Tensors)
            Assert.Equal(t.ElementCount * 4, t.ByteSize);
    }

    [Fact]
    public void Stories260K_tensors_view_the_right_bytes()
    {
        byte[] file = File.ReadAllBytes(Stories);
        Assert.Equal(new[] { Dim, Hidden, Layers, Heads, KvHeads, Vocab, SeqLen }, MemoryMarshal.Cast<byte, int>(file.AsSpan(0, 28)).ToArray());
        var floats = MemoryMarshal.Cast<byte, float>(file.AsSpan(28));
        var s = ArrayStarts();
        Assert.Equal(floats.Length, s["end"]); // shared classifier: nothing after freq_cis_imag

        using var m = Llama2cModelSource.Open(Stories);
        var byName = m.Tensors.ToDictionary(t => t.Name);
        // (GGUF name per layer, llama2.c array, floats per layer)
        (string Gguf, string Array, long PerLayer)[] layered =
        [
            ("attn_norm", "rms_att_weight", Dim), ("attn_q", "wq", Dim * Dim), ("attn_k", "wk", Dim * KvDim),
            ("attn_v", "wv", Dim * KvDim), ("attn_output", "wo", Dim * Dim), ("ffn_norm", "rms_ffn_weight", Dim),
            ("ffn_gate", "w1", Dim * Hidden), ("ffn_down", "w2", Dim * Hidden), ("ffn_up", "w3", Dim * Hidden),
        ];
        foreach (var (gguf, array, per) in layered)
        {
            foreach (int l in new[] { 0, Layers - 1 })
            {
                var t = byName[$"blk.{l}.{gguf}.weight"];
                long start = s[array] + l * per;
                Assert.Equal(per, t.ElementCount);
                Assert.Equal(floats[(int)start], At(t, 0));
                Assert.Equal(floats[(int)(start + per - 1)], At(t, per - 1));
                Assert.Equal(floats[(int)(start + per / 2)], At(t, per / 2));
            }
        }
        Assert.Equal(floats[0], At(byName["token_embd.weight"], 0));
        Assert.Equal(floats[Vocab * Dim - 1], At(byName["token_embd.weight"], Vocab * Dim - 1));
        Assert.Equal(floats[(int)s["rms_final_weight"]], At(byName["output_norm.weight"], 0));
        Assert.Equal(floats[(int)s["rms_final_weight"] + Dim - 1], At(byName["output_norm.weight"], Dim - 1));
        // A norm weight of a trained model is not all zeros: the views are not into padding.
        Assert.Contains(byName["blk.0.attn_norm.weight"].Bytes.ToArray(), b => b != 0);
    }

    [Fact]
    public void Unshared_classifier_is_read_from_after_freq_cis()
    {
        using var dir = new TempDir();
        string path = dir.File("wcls.bin");
        byte[] src = File.ReadAllBytes(Stories);
        // Same weights with vocab_size negated and a classifier of 0, 1, 2, ... appended.
        var wcls = Enumerable.Range(0, Vocab * Dim).Select(i => (float)i).ToArray();
        byte[] bytes = [.. src, .. MemoryMarshal.AsBytes(wcls.AsSpan()).ToArray()];
        BitConverter.GetBytes(-Vocab).CopyTo(bytes, 20);
        File.WriteAllBytes(path, bytes);
        using var m = Llama2cModelSource.Open(path);
        Assert.False(m.Config.SharedClassifier);
        var output = m.Tensors.Single(t => t.Name == "output.weight");
        Assert.Equal([Dim, Vocab], output.Dimensions);
        Assert.Equal(0f, At(output, 0));
        Assert.Equal(Vocab * Dim - 1f, At(output, Vocab * Dim - 1));
    }

    [Theory]
    [InlineData(0, 0, "dim 0")]
    [InlineData(3, 7, "n_heads 7 does not divide dim 64")]
    [InlineData(4, 3, "n_kv_heads 3 does not divide n_heads 8")]
    [InlineData(5, 600, "implies")]
    [InlineData(5, -512, "sign wrong")]
    [InlineData(2, int.MaxValue, "n_layers")]
    [InlineData(6, -1, "seq_len")]
    public void Bad_header_fields_are_named(int field, int value, string expected)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.bin");
        byte[] bytes = File.ReadAllBytes(Stories);
        BitConverter.GetBytes(value).CopyTo(bytes, field * 4);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidModelFileException>(() => Llama2cModelSource.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Truncated_and_padded_files_are_refused()
    {
        using var dir = new TempDir();
        string path = dir.File("t.bin");
        byte[] bytes = File.ReadAllBytes(Stories);
        File.WriteAllBytes(path, bytes[..^4]);
        Assert.Contains("truncated", Assert.Throws<InvalidModelFileException>(() => Llama2cModelSource.Open(path)).Message);
        File.WriteAllBytes(path, [.. bytes, 0, 0, 0, 0]);
        Assert.Contains("trailing", Assert.Throws<InvalidModelFileException>(() => Llama2cModelSource.Open(path)).Message);
        File.WriteAllBytes(path, bytes[..20]);
        Assert.Contains("too short", Assert.Throws<InvalidModelFileException>(() => Llama2cModelSource.Open(path)).Message);
    }
}
