// GGUF metadata -> Hugging Face config.json for llama / qwen2 / qwen3: the inverse of
// HfConfig.ToGgufMetadata (and of convert_hf_to_gguf.py's set_gguf_parameters). Llama 3 RoPE
// scaling, which GGUF keeps only as the precomputed rope_freqs.weight tensor, is recovered by
// recomputing the tensor from the standard Llama 3.x parameters (or ones given by the caller) and
// accepting them only if they reproduce it.
using System.Text.Json;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tensors;

namespace EdgeLM.Formats.HuggingFace;

public static class HfConfigWriter
{
    static readonly Dictionary<string, (string Architecture, string ModelType)> Architectures = new()
    {
        ["llama"] = ("LlamaForCausalLM", "llama"),
        ["qwen2"] = ("Qwen2ForCausalLM", "qwen2"),
        ["qwen3"] = ("Qwen3ForCausalLM", "qwen3"),
    };

    /// <summary>The config a GGUF-keyed source describes. <paramref name="ropeScaling"/> overrides the
    /// recovery of Llama 3 scaling from rope_freqs.weight.</summary>
    public static HfConfig FromSource(IModelSource source, HfRopeScaling? ropeScaling = null)
    {
        var md = source.Metadata;
        string path = source.Path;
        string arch = md.TryGetValue("general.architecture", out var a) && a.Value is string s ? s
            : throw new InvalidModelFileException(path, "metadata key 'general.architecture' is missing");
        if (!Architectures.TryGetValue(arch, out var names))
            throw new InvalidModelFileException(path, $"architecture '{arch}' cannot be written as a Hugging Face folder (supported: {string.Join(", ", Architectures.Keys)})");
        int Req(string key) => Int(md, path, $"{arch}.{key}") ?? throw new InvalidModelFileException(path, $"metadata key '{arch}.{key}' is missing");
        int hidden = Req("embedding_length"), heads = Req("attention.head_count");
        int? keyLength = Int(md, path, $"{arch}.attention.key_length");
        var embd = source.Tensors.FirstOrDefault(t => t.Name == "token_embd.weight")
            ?? throw new InvalidModelFileException(path, "tensor 'token_embd.weight' is missing");
        int headDim = keyLength ?? hidden / heads;
        var config = new HfConfig(path, names.Architecture, arch, hidden, Req("feed_forward_length"), Req("block_count"),
            heads, Int(md, path, $"{arch}.attention.head_count_kv") ?? heads, headDim, keyLength is not null,
            checked((int)embd.Dimensions[^1]),
            Int(md, path, $"{arch}.context_length") ?? 2048,
            Number(md, $"{arch}.attention.layer_norm_rms_epsilon") ?? 1e-6,
            Number(md, $"{arch}.rope.freq_base") ?? 10000.0,
            !source.Tensors.Any(t => t.Name == "output.weight"),
            Int(md, path, "tokenizer.ggml.bos_token_id"), Int(md, path, "tokenizer.ggml.eos_token_id"),
            RopeScalingOf(source, arch, md, ropeScaling));
        return config with { RopeScaling = config.RopeScaling ?? RecoverLlama3(source, config) };
    }

    static HfRopeScaling? RopeScalingOf(IModelSource source, string arch, IReadOnlyDictionary<string, GgufValue> md, HfRopeScaling? given)
    {
        if (given is not null) return given;
        if (!md.TryGetValue($"{arch}.rope.scaling.type", out var t) || t.Value is not string type || type == "none") return null;
        if (type is not ("linear" or "yarn"))
            throw new InvalidModelFileException(source.Path, $"rope scaling type '{type}' cannot be written to config.json");
        return new HfRopeScaling(type, Number(md, $"{arch}.rope.scaling.factor") ?? 1.0, 1.0, 4.0,
            Int(md, source.Path, $"{arch}.rope.scaling.original_context_length") ?? 8192);
    }

    /// <summary>rope_freqs.weight back to rope_scaling: the Llama 3.x parameters (factor = the largest
    /// entry, low 1, high 4, original context 8192) if they reproduce the tensor exactly.</summary>
    static unsafe HfRopeScaling? RecoverLlama3(IModelSource source, HfConfig config)
    {
        var t = source.Tensors.FirstOrDefault(x => x.Name == "rope_freqs.weight");
        if (t is null) return null;
        if (t.Type != GgmlType.F32 || t.ElementCount != config.HeadDim / 2)
            throw new InvalidModelFileException(source.Path, $"tensor 'rope_freqs.weight' is {t.Type} [{string.Join(", ", t.Dimensions)}], expected F32 [{config.HeadDim / 2}]");
        var have = new ReadOnlySpan<float>((void*)t.Data, (int)t.ElementCount);
        float max = 0;
        foreach (float f in have) max = Math.Max(max, f);
        var guess = new HfRopeScaling("llama3", max, 1.0, 4.0, 8192);
        float[] want = (config with { RopeScaling = guess }).Llama3RopeFreqs()!;
        for (int i = 0; i < want.Length; i++)
        {
            // Relative 1e-5: float32 pow may differ from torch's by an ulp or two; a wrong parameter moves entries by far more.
            if (Math.Abs(want[i] - have[i]) > 1e-5f * Math.Abs(have[i]))
                throw new InvalidModelFileException(source.Path,
                    "tensor 'rope_freqs.weight' does not match Llama 3 scaling with low_freq_factor 1, high_freq_factor 4 and original context 8192; pass the rope_scaling to use");
        }
        return guess;
    }

    static int? Int(IReadOnlyDictionary<string, GgufValue> md, string path, string key)
    {
        if (!md.TryGetValue(key, out var v)) return null;
        long x = v.IsInteger && !(v.Value is ulong u && u > int.MaxValue) ? v.AsInt64() : -1;
        return x is >= 0 and <= int.MaxValue ? (int)x
            : throw new InvalidModelFileException(path, $"metadata key '{key}' is {v}, expected a non-negative integer");
    }

    static double? Number(IReadOnlyDictionary<string, GgufValue> md, string key) =>
        md.TryGetValue(key, out var v) && (v.Value is float or double || v.IsInteger) ? v.AsDouble() : null;

    /// <summary>Writes config.json in the layout transformers' save_pretrained uses for these models.</summary>
    public static void Write(HfConfig c, string path, string torchDtype, bool attentionBias)
    {
        var (architecture, modelType) = Architectures[c.GgufArchitecture];
        AtomicFile.Write(path, s =>
        {
            using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteStartArray("architectures");
            w.WriteStringValue(architecture);
            w.WriteEndArray();
            w.WriteString("model_type", modelType);
            w.WriteBoolean("attention_bias", attentionBias);
            if (c.BosTokenId is int bos) w.WriteNumber("bos_token_id", bos);
            if (c.EosTokenId is int eos) w.WriteNumber("eos_token_id", eos);
            if (c.HasExplicitHeadDim) w.WriteNumber("head_dim", c.HeadDim);
            w.WriteString("hidden_act", "silu");
            w.WriteNumber("hidden_size", c.HiddenSize);
            w.WriteNumber("intermediate_size", c.IntermediateSize);
            w.WriteNumber("max_position_embeddings", c.MaxPositionEmbeddings);
            w.WriteNumber("num_attention_heads", c.NumHeads);
            w.WriteNumber("num_hidden_layers", c.NumLayers);
            w.WriteNumber("num_key_value_heads", c.NumKvHeads);
            // GGUF holds these as float32: written as the shortest float32 text, so 1e-05 stays 1e-05.
            w.WriteNumber("rms_norm_eps", (float)c.RmsNormEps);
            w.WriteNumber("rope_theta", (float)c.RopeTheta);
            if (c.RopeScaling is { } rs) WriteRopeScaling(w, rs);
            w.WriteBoolean("tie_word_embeddings", c.TieWordEmbeddings);
            w.WriteString("torch_dtype", torchDtype);
            w.WriteNumber("vocab_size", c.VocabSize);
            w.WriteEndObject();
        });
    }

    static void WriteRopeScaling(Utf8JsonWriter w, HfRopeScaling rs)
    {
        w.WriteStartObject("rope_scaling");
        w.WriteString("rope_type", rs.Type);
        w.WriteNumber("factor", rs.Factor);
        if (rs.Type == "llama3")
        {
            w.WriteNumber("low_freq_factor", rs.LowFreqFactor);
            w.WriteNumber("high_freq_factor", rs.HighFreqFactor);
        }
        if (rs.Type is "llama3" or "yarn")
            w.WriteNumber("original_max_position_embeddings", rs.OriginalMaxPositionEmbeddings);
        w.WriteEndObject();
    }
}
