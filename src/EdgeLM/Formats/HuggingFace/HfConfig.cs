// A Hugging Face config.json for the decoder-only architectures EdgeLM runs, and its mapping onto
// GGUF metadata keys exactly as llama.cpp's convert_hf_to_gguf.py writes them (Model /
// LlamaModel / Qwen2Model set_gguf_parameters): same keys, same value types (uint32 counts,
// float32 epsilons and bases). Where config.json omits a field, the transformers config class's
// default is used, because that is what the model ran with. It is not the tokenizer
// (tokenizer.json is read by the tokenizer layer) and it does not touch tensors.
using System.Text.Json;
using EdgeLM.Formats.Gguf;

namespace EdgeLM.Formats.HuggingFace;

/// <summary>config.json "rope_scaling". Only llama3 and linear (llama) and yarn (qwen2/qwen3) are mapped.</summary>
public sealed record HfRopeScaling(string Type, double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings);

public sealed record HfConfig(
    string Path,
    string Architecture,           // "LlamaForCausalLM", the first of config.json "architectures"
    string GgufArchitecture,       // general.architecture: llama, qwen2 or qwen3
    int HiddenSize,                // embedding_length
    int IntermediateSize,          // feed_forward_length
    int NumLayers,                 // block_count
    int NumHeads,                  // attention.head_count
    int NumKvHeads,                // attention.head_count_kv (default: NumHeads)
    int HeadDim,                   // head_dim, or HiddenSize / NumHeads
    bool HasExplicitHeadDim,       // config.json gave head_dim (then key_length/value_length are written)
    int VocabSize,
    int MaxPositionEmbeddings,     // context_length
    double RmsNormEps,             // attention.layer_norm_rms_epsilon
    double RopeTheta,              // rope.freq_base
    bool TieWordEmbeddings,        // true: no lm_head / output.weight, the embedding is reused
    int? BosTokenId,
    int? EosTokenId,
    HfRopeScaling? RopeScaling)
{
    /// <summary>config.json "architectures" values EdgeLM reads, with their GGUF architecture.</summary>
    public static readonly IReadOnlyDictionary<string, string> SupportedArchitectures = new Dictionary<string, string>
    {
        ["LlamaForCausalLM"] = "llama",
        ["MistralForCausalLM"] = "llama",
        ["Qwen2ForCausalLM"] = "qwen2",
        ["Qwen3ForCausalLM"] = "qwen3",
    };

    const long MaxConfigBytes = 16L << 20;

    public static HfConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new InvalidModelFileException(path, "config.json not found (a Hugging Face model folder needs one)");
        if (new FileInfo(path).Length > MaxConfigBytes)
            throw new InvalidModelFileException(path, $"config.json is larger than {MaxConfigBytes} bytes");
        byte[] bytes = File.ReadAllBytes(path);
        // The JSON reader only notices bad UTF-8 inside a string when that string is read.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new InvalidModelFileException(path, "config.json is not valid UTF-8");
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 32 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidModelFileException(path, "config.json is not a JSON object");
            return Parse(path, doc.RootElement);
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidModelFileException(path, $"config.json is not valid JSON: {e.Message}", e);
        }
    }

    static HfConfig Parse(string path, JsonElement root)
    {
        var r = new Fields(path, root);
        string arch = ArchitectureName(path, root);
        string gguf = SupportedArchitectures[arch];
        int hidden = r.Int("hidden_size");
        int heads = r.Int("num_attention_heads");
        int kvHeads = r.OptInt("num_key_value_heads") ?? heads;
        int? headDim = r.OptInt("head_dim");
        if (heads % kvHeads != 0)
            throw new InvalidModelFileException(path, $"num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}");
        if (headDim is null && hidden % heads != 0)
            throw new InvalidModelFileException(path, $"hidden_size {hidden} is not a multiple of num_attention_heads {heads}");
        int hd = headDim ?? hidden / heads;
        if (hd % 2 != 0)
            throw new InvalidModelFileException(path, $"head dimension {hd} is odd; RoPE needs pairs");
        return new HfConfig(path, arch, gguf,
            hidden, r.Int("intermediate_size"), r.Int("num_hidden_layers"), heads, kvHeads, hd, headDim is not null,
            r.Int("vocab_size"),
            r.OptInt("max_position_embeddings") ?? (gguf == "llama" ? 2048 : 32768),
            r.OptDouble("rms_norm_eps") ?? 1e-6,
            r.OptDouble("rope_theta") ?? 10000.0,
            r.OptBool("tie_word_embeddings") ?? false,
            r.OptTokenId("bos_token_id"), r.OptTokenId("eos_token_id"),
            RopeScalingOf(path, gguf, root));
    }

    static string ArchitectureName(string path, JsonElement root)
    {
        string supported = string.Join(", ", SupportedArchitectures.Keys);
        if (root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0)
        {
            string? name = a[0].ValueKind == JsonValueKind.String ? a[0].GetString() : null;
            return name is not null && SupportedArchitectures.ContainsKey(name) ? name
                : throw new InvalidModelFileException(path, $"architecture '{a[0]}' is not supported (supported: {supported})");
        }
        // Some configs name only model_type.
        string? type = root.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        return type switch
        {
            "llama" => "LlamaForCausalLM",
            "mistral" => "MistralForCausalLM",
            "qwen2" => "Qwen2ForCausalLM",
            "qwen3" => "Qwen3ForCausalLM",
            _ => throw new InvalidModelFileException(path,
                $"config.json names no supported architecture (model_type '{type}'; supported: {supported})"),
        };
    }

    static HfRopeScaling? RopeScalingOf(string path, string gguf, JsonElement root)
    {
        if (!root.TryGetProperty("rope_scaling", out var rs) || rs.ValueKind == JsonValueKind.Null) return null;
        if (rs.ValueKind != JsonValueKind.Object)
            throw new InvalidModelFileException(path, "rope_scaling is not an object");
        var r = new Fields(path, rs, "rope_scaling.");
        // transformers renamed "type" to "rope_type"; the converter reads both.
        string type = (r.OptString("rope_type") ?? r.OptString("type") ?? "").ToLowerInvariant();
        bool ok = gguf == "llama" ? type is "llama3" or "linear" or "default" : type is "yarn" or "default";
        if (!ok)
            throw new InvalidModelFileException(path, $"rope_scaling type '{type}' is not supported for {gguf}");
        if (type == "default") return null;
        return new HfRopeScaling(type,
            r.OptDouble("factor") ?? (type == "llama3" ? 8.0 : 1.0),
            r.OptDouble("low_freq_factor") ?? 1.0,
            r.OptDouble("high_freq_factor") ?? 4.0,
            r.OptInt("original_max_position_embeddings") ?? 8192);
    }

    /// <summary>The GGUF metadata convert_hf_to_gguf.py writes for this config (architecture and
    /// hyperparameters, plus bos/eos ids; the tokenizer vocabulary is not included).</summary>
    public Dictionary<string, GgufValue> ToGgufMetadata()
    {
        string a = GgufArchitecture;
        var m = new Dictionary<string, GgufValue>(StringComparer.Ordinal)
        {
            ["general.architecture"] = GgufValue.Of(a),
            [$"{a}.block_count"] = GgufValue.Of((uint)NumLayers),
            [$"{a}.context_length"] = GgufValue.Of((uint)MaxPositionEmbeddings),
            [$"{a}.embedding_length"] = GgufValue.Of((uint)HiddenSize),
            [$"{a}.feed_forward_length"] = GgufValue.Of((uint)IntermediateSize),
            [$"{a}.attention.head_count"] = GgufValue.Of((uint)NumHeads),
            [$"{a}.attention.head_count_kv"] = GgufValue.Of((uint)NumKvHeads),
            [$"{a}.rope.freq_base"] = GgufValue.Of((float)RopeTheta),
            [$"{a}.attention.layer_norm_rms_epsilon"] = GgufValue.Of((float)RmsNormEps),
        };
        if (HasExplicitHeadDim)
        {
            m[$"{a}.attention.key_length"] = GgufValue.Of((uint)HeadDim);
            m[$"{a}.attention.value_length"] = GgufValue.Of((uint)HeadDim);
        }
        if (a == "llama")
        {
            // LlamaModel adds these; Qwen2Model does not (llama.cpp then takes the head size).
            m["llama.vocab_size"] = GgufValue.Of((uint)VocabSize);
            m["llama.rope.dimension_count"] = GgufValue.Of((uint)HeadDim);
        }
        if (RopeScaling is { Type: "linear" or "yarn" } rs)
        {
            m[$"{a}.rope.scaling.type"] = GgufValue.Of(rs.Type);
            m[$"{a}.rope.scaling.factor"] = GgufValue.Of((float)rs.Factor);
            if (rs.Type == "yarn")
                m[$"{a}.rope.scaling.original_context_length"] = GgufValue.Of((uint)rs.OriginalMaxPositionEmbeddings);
        }
        if (BosTokenId is int bos) m["tokenizer.ggml.bos_token_id"] = GgufValue.Of((uint)bos);
        if (EosTokenId is int eos) m["tokenizer.ggml.eos_token_id"] = GgufValue.Of((uint)eos);
        return m;
    }

    /// <summary>Llama 3 RoPE scaling. llama.cpp has no metadata key for it: the converter
    /// (LlamaModel.generate_extra_tensors) precomputes one factor per rotated pair into the tensor
    /// rope_freqs.weight, [HeadDim / 2] F32, and the engine divides each pair's frequency by it.
    /// Computed here the same way, in float32 as the converter's torch code does. Null when the
    /// config has no llama3 scaling.</summary>
    public float[]? Llama3RopeFreqs()
    {
        if (RopeScaling is not { Type: "llama3" } rs) return null;
        float factor = (float)rs.Factor, low = (float)rs.LowFreqFactor, high = (float)rs.HighFreqFactor;
        float oldContext = rs.OriginalMaxPositionEmbeddings;
        float lowFreqWavelen = oldContext / low;
        float highFreqWavelen = oldContext / high;
        var factors = new float[HeadDim / 2];
        for (int i = 0; i < factors.Length; i++)
        {
            float freq = 1f / MathF.Pow((float)RopeTheta, 2 * i / (float)HeadDim);
            float wavelen = (float)(2 * Math.PI) / freq;
            if (wavelen < highFreqWavelen)
                factors[i] = 1f;
            else if (wavelen > lowFreqWavelen)
                factors[i] = factor;
            else
            {
                float smooth = (oldContext / wavelen - low) / (high - low);
                factors[i] = 1f / ((1 - smooth) / factor + smooth);
            }
        }
        return factors;
    }
}
