// The models the benchmark runs: named shapes × named storage types, written once with
// RandomModel into a cache folder and reused. "Q4_K_M" approximates llama.cpp's mix
// (llama_tensor_get_type in src/llama-quant.cpp for LLAMA_FTYPE_MOSTLY_Q4_K_M): Q4_K by default;
// Q6_K for the output head (token_embd when tied) and for attn_v / ffn_down of the layers
// use_more_bits picks; a K-quant whose row is not a multiple of 256 falls back as llama.cpp's
// convert_incompatible_tensor does (Q4_K → Q5_0, Q6_K → Q8_0), which is what Qwen's 896 hits.
// Not modelled: the MoE, Falcon and imatrix special cases, none of which apply to these shapes.
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tensors;

namespace EdgeLM.Bench;

public static class BenchModels
{
    /// <summary>A shape small enough for a smoke run in seconds, with K-quant-compatible widths (multiples of 256).</summary>
    public static RandomModelShape Tiny => new("llama", Dim: 256, Layers: 4, Heads: 4, KvHeads: 2, HeadDim: 64,
        Ffn: 768, Vocab: 2048, Context: 4096, Tied: false);

    public static readonly string[] ShapeNames = ["tiny", "qwen2.5-0.5b", "llama-3.2-1b"];
    public static readonly string[] DefaultTypes = ["F16", "Q8_0", "Q4_0", "Q4_K_M"];

    public static RandomModelShape Shape(string name) => name switch
    {
        "tiny" => Tiny,
        "qwen2.5-0.5b" => RandomModelShape.Qwen25_05B,
        "llama-3.2-1b" => RandomModelShape.Llama32_1B,
        _ => throw new ArgumentException($"unknown shape '{name}'; known: {string.Join(", ", ShapeNames)}"),
    };

    /// <summary>The per-tensor type chooser for a type spec: a plain GGUF type name, or "Q4_K_M".</summary>
    public static Func<string, GgmlType> TypeChooser(string spec, RandomModelShape s)
    {
        if (spec.Equals("Q4_K_M", StringComparison.OrdinalIgnoreCase))
            return name => Q4KM(name, ColumnsOf(name, s), s.Layers, hasOutput: !s.Tied);
        if (!GgmlTypes.TryParse(spec, out var t))
            throw new ArgumentException($"unknown type '{spec}'; use Q4_K_M or one of {string.Join(", ", GgmlTypes.StorageTypeNames)}");
        return _ => t;
    }

    /// <summary>llama.cpp's Q4_K_M choice for one tensor (see the file header).</summary>
    public static GgmlType Q4KM(string name, int cols, int layers, bool hasOutput)
    {
        var t = GgmlType.Q4_K;
        bool head = name == "output.weight" || (!hasOutput && name == "token_embd.weight");
        if (head) t = GgmlType.Q6_K;
        else if ((name.EndsWith(".attn_v.weight", StringComparison.Ordinal) || name.EndsWith(".ffn_down.weight", StringComparison.Ordinal))
                 && UseMoreBits(LayerOf(name), layers))
            t = GgmlType.Q6_K;
        if (cols % GgmlTypes.QK_K != 0)
            t = t == GgmlType.Q6_K ? GgmlType.Q8_0 : GgmlType.Q5_0;
        return t;
    }

    /// <summary>llama.cpp's use_more_bits: the first and last eighth of the layers and every third in between.</summary>
    public static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    static int LayerOf(string name)
    {
        // "blk.{i}.attn_v.weight"
        int dot = name.IndexOf('.', 4);
        return int.Parse(name.AsSpan(4, dot - 4), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Row length (GGUF ne[0]) of a matrix named as RandomModel writes it.</summary>
    public static int ColumnsOf(string name, RandomModelShape s) =>
        name.EndsWith(".attn_output.weight", StringComparison.Ordinal) ? s.Heads * s.HeadDim
        : name.EndsWith(".ffn_down.weight", StringComparison.Ordinal) ? s.Ffn
        : s.Dim;

    /// <summary>The cached model file for shape × type, written on first use.</summary>
    public static string Ensure(string cacheDir, string shapeName, string typeSpec, TextWriter log)
    {
        Directory.CreateDirectory(cacheDir);
        string path = Path.Combine(cacheDir, $"random-{shapeName}-{typeSpec.ToUpperInvariant()}.gguf");
        if (File.Exists(path))
        {
            log.WriteLine($"# reusing {path}");
            return path;
        }
        var shape = Shape(shapeName);
        string tmp = path + ".partial";
        log.WriteLine($"# writing {path}");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            RandomModel.Write(tmp, shape, typeOf: TypeChooser(typeSpec, shape));
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
        File.Move(tmp, path);
        log.WriteLine($"# wrote {new FileInfo(path).Length / 1e6:F0} MB in {sw.Elapsed.TotalSeconds:F1} s");
        return path;
    }

    /// <summary>Bytes of weights one decode step reads: every tensor once, except the token embedding, of
    /// which one row is read (unless it is also the tied output head, which reads all of it).</summary>
    public static long BytesPerToken(IReadOnlyList<TensorEntry> tensors)
    {
        long total = 0;
        bool hasOutput = tensors.Any(t => t.Name == "output.weight");
        foreach (var t in tensors)
        {
            if (t.Name == "token_embd.weight")
                total += t.RowBytes + (hasOutput ? 0 : t.ByteSize);
            else total += t.ByteSize;
        }
        return total;
    }

    public static long BytesPerToken(string path)
    {
        using var src = GgufModelSource.Open(path);
        return BytesPerToken(src.Tensors);
    }
}
