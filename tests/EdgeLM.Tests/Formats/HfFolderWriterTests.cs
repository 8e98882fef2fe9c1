// Writing Hugging Face folders from other sources. The Q/K un-permute is checked against the
// converter's permute (convert_hf_to_gguf.py LlamaModel.permute: reshape(n_head, 2, rows/n_head/2,
// cols).swapaxes(1, 2)) written out here as index arithmetic: permuting what the writer produced
// must give back the GGUF-order rows of the original llama2.c model.
using System.Runtime.InteropServices;
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Formats.HuggingFace;
using EdgeLM.Formats.Llama2c;
using EdgeLM.Formats.Safetensors;
using EdgeLM.Models;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Formats;

public class HfFolderWriterTests
{
    static string Stories => TestData.File("llama2c", "stories260K.bin");

    /// <summary>The converter's permute (HF rotate-half rows -> GGUF interleaved rows), as numpy does it.</summary>
    static float[] ConverterPermute(float[] w, long rows, int nHead)
    {
        long cols = w.Length / rows, half = rows / nHead / 2;
        var outp = new float[w.Length];
        // out has shape (n_head, half, 2, cols); in has shape (n_head, 2, half, cols); out[h,a,b] = in[h,b,a].
        for (long h = 0; h < nHead; h++)
            for (long a = 0; a < half; a++)
                for (long b = 0; b < 2; b++)
                    Array.Copy(w, ((h * 2 + b) * half + a) * cols, outp, ((h * half + a) * 2 + b) * cols, cols);
        return outp;
    }

    static float[] Floats(TensorEntry t) => MemoryMarshal.Cast<byte, float>(t.Bytes).ToArray();

    static void AssertSameModel(IModelSource gguf, IModelSource hf, int heads, int kvHeads)
    {
        var want = gguf.Tensors.ToDictionary(t => t.Name);
        var got = hf.Tensors.ToDictionary(t => t.Name);
        Assert.Equal(want.Keys.Order(), got.Keys.Order());
        foreach (var (name, t) in want)
        {
            Assert.Equal(t.Dimensions, got[name].Dimensions);
            float[] g = Floats(got[name]);
            if (name.EndsWith("attn_q.weight", StringComparison.Ordinal)) g = ConverterPermute(g, t.Rows, heads);
            if (name.EndsWith("attn_k.weight", StringComparison.Ordinal)) g = ConverterPermute(g, t.Rows, kvHeads);
            Assert.True(Floats(t).AsSpan().SequenceEqual(g), $"tensor {name} differs");
        }
    }

    [Fact]
    public void Llama2c_to_hf_folder_unpermutes_qk_and_keeps_everything_else()
    {
        using var dir = new TempDir();
        using var src = Llama2cModelSource.Open(Stories);
        var files = HfFolderWriter.Write(src, dir.Path);
        Assert.Equal([SafetensorsCheckpoint.SingleFileName, "config.json"], files);
        using var hf = SafetensorsModelSource.Open(dir.Path);
        Assert.True(hf.QkRotateHalf);
        Assert.True(hf.Config.TieWordEmbeddings);
        Assert.Equal(8, hf.Config.NumHeads);
        Assert.Equal(4, hf.Config.NumKvHeads);
        // The permute really moved rows (q of a trained model is not symmetric under it).
        var q = hf.Tensors.Single(t => t.Name == "blk.0.attn_q.weight");
        Assert.False(Floats(q).AsSpan().SequenceEqual(Floats(src.Tensors.Single(t => t.Name == "blk.0.attn_q.weight"))));
        AssertSameModel(src, hf, 8, 4);
        foreach (string key in new[] { "general.architecture", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
            "llama.block_count", "llama.attention.head_count", "llama.attention.head_count_kv", "llama.attention.layer_norm_rms_epsilon",
            "llama.rope.freq_base", "llama.rope.dimension_count", "llama.vocab_size" })
            Assert.Equal(src.Metadata[key], hf.Metadata[key]);
    }

    [Fact]
    public void Gguf_file_to_hf_folder_matches_the_llama2c_conversion_and_shards()
    {
        using var dir = new TempDir();
        using var src = Llama2cModelSource.Open(Stories);
        var w = new GgufWriter();
        foreach (var (k, v) in src.Metadata) w.Set(k, v);
        foreach (var t in src.Tensors)
        {
            var copy = t.Bytes.ToArray();
            w.AddTensor(t.Name, t.Type, t.Dimensions, copy);
        }
        w.Write(dir.File("m.gguf"));
        using var gguf = GgufModelSource.Open(dir.File("m.gguf"));
        string outDir = Path.Combine(dir.Path, "hf");
        var files = HfFolderWriter.Write(gguf, outDir, new HfWriteOptions(MaxShardBytes: 300_000));
        Assert.Contains(SafetensorsCheckpoint.IndexFileName, files);
        Assert.True(files.Count(f => f.EndsWith(".safetensors", StringComparison.Ordinal)) >= 2);
        using var hf = SafetensorsModelSource.Open(outDir);
        AssertSameModel(src, hf, 8, 4);
    }

    [Fact]
    public void Hf_folder_round_trips_unchanged_including_llama3_rope_scaling()
    {
        using var dir = new TempDir();
        var data = HfModelTests.WriteFolder(dir.Path, HfModelTests.LlamaConfig, HfModelTests.HfTensors());
        using var src = SafetensorsModelSource.Open(dir.Path);
        string outDir = Path.Combine(dir.Path, "out");
        HfFolderWriter.Write(src, outDir);
        using var back = SafetensorsModelSource.Open(outDir);
        Assert.Equal(src.Config with { Path = "", HasExplicitHeadDim = false }, back.Config with { Path = "", HasExplicitHeadDim = false });
        foreach (var t in src.Tensors)
            Assert.Equal(Floats(t), Floats(back.Tensors.Single(x => x.Name == t.Name)));
        using var ck = SafetensorsCheckpoint.Open(outDir);
        var q = ck.Find("model.layers.1.self_attn.q_proj.weight")!.Value;
        Assert.Equal(data["model.layers.1.self_attn.q_proj.weight"], MemoryMarshal.Cast<byte, float>(q.File.TensorData(q.Info)).ToArray());
    }

    /// <summary>A source that presents one tensor as quantized, to exercise the dequantize callback.</summary>
    sealed class QuantizedView(IModelSource inner, string name) : IModelSource
    {
        public string Path => inner.Path;
        public IReadOnlyDictionary<string, GgufValue> Metadata => inner.Metadata;
        public IReadOnlyList<TensorEntry> Tensors { get; } = inner.Tensors
            .Select(t => t.Name == name ? t with { Type = GgmlType.Q8_0, ByteSize = GgmlTypes.RowBytes(GgmlType.Q8_0, t.ElementCount) } : t).ToList();
        public bool QkRotateHalf => inner.QkRotateHalf;
        public void Dispose() { }
    }

    [Fact]
    public void Quantized_tensors_go_through_the_dequantize_callback()
    {
        using var dir = new TempDir();
        using var src = Llama2cModelSource.Open(Stories);
        var view = new QuantizedView(src, "blk.0.attn_q.weight");
        var e = Assert.Throws<InvalidModelFileException>(() => HfFolderWriter.Write(view, dir.Path));
        Assert.Contains("tensor 'blk.0.attn_q.weight' is Q8_0", e.Message);

        var original = src.Tensors.Single(t => t.Name == "blk.0.attn_q.weight");
        int calls = 0;
        HfFolderWriter.Write(view, dir.Path, new HfWriteOptions(Dequantize: t =>
        {
            calls++;
            Assert.Equal(GgmlType.Q8_0, t.Type);
            return Floats(original);
        }));
        Assert.Equal(1, calls);
        using var hf = SafetensorsModelSource.Open(dir.Path);
        AssertSameModel(src, hf, 8, 4);
    }
}
