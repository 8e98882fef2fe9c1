// Reads a Hugging Face PEFT LoRA adapter folder into a LoraAdapter: adapter_config.json (r, lora_alpha,
// target_modules, use_rslora) and adapter_model.safetensors with tensors named
// base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight (rank, in) and ...lora_B.weight
// (out, rank), in F32, F16 or BF16. Names are mapped to GGUF names with the HF→GGUF table, and for a
// llama base the rows of q/k lora_B are permuted exactly as the HF→GGUF converter permutes q/k weights
// (convert_lora_to_gguf.py does the same), so the result equals the GGUF adapter llama.cpp would load.
// Needs the base's config: the heads for that permutation, and the architecture PEFT does not record.
// Not a validator against the base's matrices: LoraStack / LoraMerger check shapes against it.
using System.Text.Json;
using EdgeLM.Formats;
using EdgeLM.Formats.HuggingFace;
using EdgeLM.Formats.Safetensors;
using EdgeLM.Quantization;

namespace EdgeLM.Models.Lora;

public static class LoraPeftReader
{
    public const string ConfigName = "adapter_config.json", WeightsName = "adapter_model.safetensors";
    const long MaxConfigBytes = 1 << 20;

    public static LoraAdapter Read(string dir, ModelConfig baseConfig)
    {
        string configPath = Path.Combine(dir, ConfigName), weightsPath = Path.Combine(dir, WeightsName);
        if (!File.Exists(configPath)) throw new InvalidModelFileException(dir, $"no {ConfigName} in the adapter folder");
        if (!File.Exists(weightsPath)) throw new InvalidModelFileException(dir, $"no {WeightsName} in the adapter folder");
        var (rank, alpha) = ReadConfig(configPath);

        using var st = SafetensorsFile.Open(weightsPath);
        var pairs = new SortedDictionary<string, (SafetensorsTensorInfo? A, SafetensorsTensorInfo? B)>(StringComparer.Ordinal);
        foreach (var t in st.Tensors)
        {
            var (target, isA) = GgufTarget(weightsPath, t.Name, baseConfig.BlockCount);
            pairs.TryGetValue(target, out var p);
            if ((isA ? p.A : p.B) is not null) throw new InvalidModelFileException(weightsPath, $"tensor '{t.Name}' maps to '{target}', which another tensor already adapts");
            pairs[target] = isA ? (t, p.B) : (p.A, t);
        }
        if (pairs.Count == 0) throw new InvalidModelFileException(weightsPath, "the adapter has no tensors");

        var tensors = new List<LoraTensor>(pairs.Count);
        foreach (var (target, (a, b)) in pairs)
        {
            if (a is null || b is null)
                throw new InvalidModelFileException(weightsPath, $"the lora_{(a is null ? "A" : "B")} tensor for '{target}' is missing");
            tensors.Add(ReadPair(st, target, a, b, rank, baseConfig));
        }
        return new LoraAdapter(baseConfig.Architecture, alpha, tensors);
    }

    /// <summary>r and the effective alpha (rsLoRA's alpha/√r scaling expressed as alpha' / r).</summary>
    static (int Rank, float Alpha) ReadConfig(string path)
    {
        if (new FileInfo(path).Length > MaxConfigBytes) throw new InvalidModelFileException(path, $"larger than {MaxConfigBytes} bytes; not an adapter config");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidModelFileException(path, $"not valid JSON ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(path, "expected a JSON object");
            if (root.TryGetProperty("peft_type", out var pt) && pt.ValueKind == JsonValueKind.String && pt.GetString() != "LORA")
                throw new InvalidModelFileException(path, $"config key 'peft_type' is '{pt.GetString()}'; only LORA adapters are supported");
            int rank = Number(path, root, "r") is { } r && r >= 1 && r <= LoraGgufReader.MaxRank && r == Math.Floor(r)
                ? (int)r : throw new InvalidModelFileException(path, $"config key 'r' is missing or not an integer from 1 to {LoraGgufReader.MaxRank}");
            double alpha = Number(path, root, "lora_alpha") ?? rank;
            if (!double.IsFinite(alpha) || alpha < 0) throw new InvalidModelFileException(path, $"config key 'lora_alpha' is {alpha}, expected a number ≥ 0");
            if (True(root, "fan_in_fan_out")) throw new InvalidModelFileException(path, "config key 'fan_in_fan_out' is true (Conv1D layers); not supported");
            if (NonEmpty(root, "rank_pattern") || NonEmpty(root, "alpha_pattern"))
                throw new InvalidModelFileException(path, "per-module 'rank_pattern' / 'alpha_pattern' are not supported");
            if (True(root, "use_dora")) throw new InvalidModelFileException(path, "config key 'use_dora' is true; DoRA adapters are not supported");
            // rsLoRA scales by alpha/√r; as alpha'/r that is alpha' = alpha·√r.
            if (True(root, "use_rslora")) alpha *= Math.Sqrt(rank);
            return (rank, (float)alpha);
        }
    }

    static double? Number(string path, JsonElement root, string key)
    {
        if (!root.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double v))
            throw new InvalidModelFileException(path, $"config key '{key}' is {e.GetRawText()}, expected a number");
        return v;
    }

    static bool True(JsonElement root, string key) => root.TryGetProperty(key, out var e) && e.ValueKind == JsonValueKind.True;

    static bool NonEmpty(JsonElement root, string key) =>
        root.TryGetProperty(key, out var e) && e.ValueKind == JsonValueKind.Object && e.EnumerateObject().Any();

    /// <summary>"base_model.model.model.layers.3.mlp.up_proj.lora_B.weight" → ("blk.3.ffn_up.weight", false).</summary>
    static (string Target, bool IsA) GgufTarget(string path, string name, int blockCount)
    {
        const string Prefix = "base_model.model.";
        string n = name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..] : name;
        bool isA;
        int at = n.IndexOf(".lora_A.", StringComparison.Ordinal);
        if (at >= 0) isA = true;
        else if ((at = n.IndexOf(".lora_B.", StringComparison.Ordinal)) >= 0) isA = false;
        else throw new InvalidModelFileException(path, $"tensor '{name}' is not a lora_A or lora_B weight (embedding or bias adapters are not supported)");
        string rest = n[(at + ".lora_A.".Length)..];
        if (rest is not ("weight" or "default.weight")) throw new InvalidModelFileException(path, $"tensor '{name}' is not a lora_A or lora_B weight");
        string hf = n[..at] + ".weight";
        string target = HfTensorNames.ToGguf(hf, blockCount)
            ?? throw new InvalidModelFileException(path, $"tensor '{name}': the base model has no matrix '{hf}' to adapt");
        return (target, isA);
    }

    static LoraTensor ReadPair(SafetensorsFile st, string target, SafetensorsTensorInfo a, SafetensorsTensorInfo b, int rank, ModelConfig c)
    {
        string path = st.Path;
        if (a.Shape.Length != 2 || a.Shape[0] != rank)
            throw new InvalidModelFileException(path, $"tensor '{a.Name}' has shape [{string.Join(", ", a.Shape)}], expected [{rank}, in] (r = {rank})");
        if (b.Shape.Length != 2 || b.Shape[1] != rank)
            throw new InvalidModelFileException(path, $"tensor '{b.Name}' has shape [{string.Join(", ", b.Shape)}], expected [out, {rank}] (r = {rank})");
        long inDim = a.Shape[1], outDim = b.Shape[0];
        if (inDim < 1 || inDim > 1 << 24 || outDim < 1 || outDim > 1 << 24)
            throw new InvalidModelFileException(path, $"tensors '{a.Name}' / '{b.Name}' have sizes {inDim} / {outDim} out of range");
        var A = ToF32(st, a, rank, (int)inDim);
        var B = ToF32(st, b, (int)outDim, rank);
        int heads = c.Architecture != "llama" ? 0
            : target.EndsWith(".attn_q.weight", StringComparison.Ordinal) ? c.HeadCount
            : target.EndsWith(".attn_k.weight", StringComparison.Ordinal) ? c.HeadCountKv : 0;
        if (heads > 0)
        {
            if (outDim % (2 * heads) != 0) throw new InvalidModelFileException(path, $"tensor '{b.Name}' has {outDim} rows, not a whole number of heads of {heads}");
            B = PermuteRows(B, (int)outDim, rank, heads);
        }
        return new LoraTensor(target, rank, (int)inDim, (int)outDim, A, B);
    }

    /// <summary>Row r of the GGUF (interleaved) order is row PermutedSourceRow(r) of the Hugging Face order.</summary>
    static float[] PermuteRows(float[] b, int rows, int cols, int heads)
    {
        var p = new float[b.Length];
        for (int r = 0; r < rows; r++)
            b.AsSpan((int)GgufConverter.PermutedSourceRow(r, rows, heads) * cols, cols).CopyTo(p.AsSpan(r * cols, cols));
        return p;
    }

    static float[] ToF32(SafetensorsFile st, SafetensorsTensorInfo t, int rows, int cols)
    {
        var data = new float[checked((long)rows * cols)];
        var bytes = st.TensorData(t);
        int rowBytes = bytes.Length / rows;
        for (int r = 0; r < rows; r++)
            QuantKernels.Dequantize(t.Type, bytes.Slice(r * rowBytes, rowBytes), data.AsSpan(r * cols, cols));
        return data;
    }
}
