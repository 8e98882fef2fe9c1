// Reads a llama.cpp GGUF LoRA adapter (what convert_lora_to_gguf.py writes and llama.cpp's --lora
// loads) into a LoraAdapter: general.type "adapter", adapter.type "lora", adapter.lora.alpha, and
// for each adapted base tensor "<target>.lora_a" with GGUF dims [in, rank] and "<target>.lora_b" with
// dims [rank, out] (llama-adapter.cpp's shape rules), in any tensor type the engine reads, dequantized
// to F32. Not a check against a base model: LoraBaseCheck does that once the base is known.
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Models.Lora;

public static class LoraGgufReader
{
    const string SuffixA = ".lora_a", SuffixB = ".lora_b";
    /// <summary>A rank above this is not a low-rank adapter; refusing it bounds what a file can make us allocate.</summary>
    public const int MaxRank = 4096;

    public static LoraAdapter Read(string path)
    {
        using var f = GgufFile.Open(path);
        string type = f.GetString("general.type") ?? throw Bad(path, "metadata key 'general.type' is missing (not a GGUF adapter)");
        if (type != "adapter") throw Bad(path, $"metadata key 'general.type' is '{type}', expected 'adapter' (is this a model rather than an adapter?)");
        string kind = f.GetString("adapter.type") ?? throw Bad(path, "metadata key 'adapter.type' is missing");
        if (kind != "lora") throw Bad(path, $"metadata key 'adapter.type' is '{kind}'; only 'lora' adapters are supported");
        string arch = f.GetString("general.architecture") ?? throw Bad(path, "metadata key 'general.architecture' is missing");
        double alpha = f.GetNumber("adapter.lora.alpha") ?? 0;
        if (!double.IsFinite(alpha) || alpha < 0) throw Bad(path, $"metadata key 'adapter.lora.alpha' is {alpha}, expected a finite number ≥ 0");

        var pairs = new SortedDictionary<string, (GgufTensorInfo? A, GgufTensorInfo? B)>(StringComparer.Ordinal);
        foreach (var t in f.Tensors)
        {
            bool isA = t.Name.EndsWith(SuffixA, StringComparison.Ordinal);
            if (!isA && !t.Name.EndsWith(SuffixB, StringComparison.Ordinal))
                throw Bad(path, $"tensor '{t.Name}' is neither a '.lora_a' nor a '.lora_b' tensor");
            string target = t.Name[..^SuffixA.Length];
            pairs.TryGetValue(target, out var p);
            pairs[target] = isA ? (t, p.B) : (p.A, t);
        }
        if (pairs.Count == 0) throw Bad(path, "the adapter has no tensors");

        var tensors = new List<LoraTensor>(pairs.Count);
        foreach (var (target, (a, b)) in pairs)
        {
            if (a is null) throw Bad(path, $"tensor '{target}{SuffixA}' is missing (its '{SuffixB}' is present)");
            if (b is null) throw Bad(path, $"tensor '{target}{SuffixB}' is missing (its '{SuffixA}' is present)");
            tensors.Add(ReadPair(f, target, a, b));
        }
        return new LoraAdapter(arch, (float)alpha, tensors);
    }

    static LoraTensor ReadPair(GgufFile f, string target, GgufTensorInfo a, GgufTensorInfo b)
    {
        string path = f.Path;
        if (a.Dimensions.Length != 2) throw Bad(path, $"tensor '{a.Name}' has {a.Dimensions.Length} dimensions, expected 2 ([in, rank])");
        if (b.Dimensions.Length != 2) throw Bad(path, $"tensor '{b.Name}' has {b.Dimensions.Length} dimensions, expected 2 ([rank, out])");
        long inDim = a.Dimensions[0], rank = a.Dimensions[1], outDim = b.Dimensions[1];
        if (b.Dimensions[0] != rank)
            throw Bad(path, $"tensor '{b.Name}' has shape [{b.Dimensions[0]}, {b.Dimensions[1]}] but '{a.Name}' has rank {rank}: lora_b must be [rank, out] (a transposed or old-format adapter?)");
        if (rank < 1 || rank > MaxRank) throw Bad(path, $"tensor '{a.Name}' has rank {rank}, expected 1..{MaxRank}");
        if (inDim < 1 || inDim > 1 << 24) throw Bad(path, $"tensor '{a.Name}' has input size {inDim}, expected 1..{1 << 24}");
        if (outDim < 1 || outDim > 1 << 24) throw Bad(path, $"tensor '{b.Name}' has output size {outDim}, expected 1..{1 << 24}");
        return new LoraTensor(target, (int)rank, (int)inDim, (int)outDim, ToF32(f, a), ToF32(f, b));
    }

    /// <summary>Dequantizes a tensor row by row; the reader already checked that its bytes lie inside the file.</summary>
    static float[] ToF32(GgufFile f, GgufTensorInfo t)
    {
        int cols = checked((int)t.Dimensions[0]);
        long rows = t.Dimensions[1];
        if (!GgmlTypes.IsKnown(t.Type) || cols % GgmlTypes.Info(t.Type).BlockSize != 0)
            throw Bad(f.Path, $"tensor '{t.Name}' has type {t.Type}, which cannot hold rows of {cols}");
        long rowBytes = GgmlTypes.RowBytes(t.Type, cols);
        if (rowBytes * rows != t.ByteSize) throw Bad(f.Path, $"tensor '{t.Name}' has {t.ByteSize} bytes, expected {rowBytes * rows}");
        var data = new float[checked(cols * rows)];
        var bytes = f.TensorData(t);
        for (long r = 0; r < rows; r++)
            QuantKernels.Dequantize(t.Type, bytes.Slice((int)(r * rowBytes), (int)rowBytes), data.AsSpan((int)(r * cols), cols));
        return data;
    }

    static InvalidModelFileException Bad(string path, string message) => new(path, message);
}
