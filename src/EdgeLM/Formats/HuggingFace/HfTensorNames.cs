// Hugging Face tensor names <-> GGUF tensor names for the llama / qwen2 / qwen3 family, as
// llama.cpp's gguf-py tensor_mapping.py maps them (MODEL_TENSOR.TOKEN_EMBD, ATTN_Q, FFN_GATE, ...).
// One table serves both directions. Names the converter deliberately drops (rotary_emb.inv_freq,
// attention.masked_bias, attention.bias) are reported as skippable; anything else unknown is the
// caller's error to raise.
using System.Globalization;

namespace EdgeLM.Formats.HuggingFace;

public static class HfTensorNames
{
    /// <summary>Whole-model tensors: (Hugging Face name, GGUF name).</summary>
    static readonly (string Hf, string Gguf)[] Global =
    [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ];

    /// <summary>Per-layer tensors: suffix after "model.layers.{i}." and after "blk.{i}.".</summary>
    static readonly (string Hf, string Gguf)[] Layer =
    [
        ("input_layernorm.weight", "attn_norm.weight"),
        ("self_attn.q_proj.weight", "attn_q.weight"),
        ("self_attn.q_proj.bias", "attn_q.bias"),
        ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.k_proj.bias", "attn_k.bias"),
        ("self_attn.v_proj.weight", "attn_v.weight"),
        ("self_attn.v_proj.bias", "attn_v.bias"),
        ("self_attn.o_proj.weight", "attn_output.weight"),
        ("self_attn.o_proj.bias", "attn_output.bias"),
        ("self_attn.q_norm.weight", "attn_q_norm.weight"),
        ("self_attn.k_norm.weight", "attn_k_norm.weight"),
        ("post_attention_layernorm.weight", "ffn_norm.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"),
        ("mlp.up_proj.weight", "ffn_up.weight"),
        ("mlp.down_proj.weight", "ffn_down.weight"),
    ];

    const string HfLayerPrefix = "model.layers.";
    const string GgufLayerPrefix = "blk.";

    /// <summary>True for the buffers convert_hf_to_gguf.py skips (prepare_tensors: "we don't need these").</summary>
    public static bool IsIgnored(string hfName) =>
        hfName.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)
        || hfName.EndsWith(".attention.masked_bias", StringComparison.Ordinal)
        || hfName.EndsWith(".attention.bias", StringComparison.Ordinal);

    /// <summary>The GGUF name of a Hugging Face tensor, or null when the name is unknown or its layer
    /// index is not below <paramref name="blockCount"/>.</summary>
    public static string? ToGguf(string hfName, int blockCount) =>
        Map(hfName, blockCount, HfLayerPrefix, GgufLayerPrefix, fromHf: true);

    /// <summary>The Hugging Face name of a GGUF tensor, or null when it has none (e.g. rope_freqs.weight).</summary>
    public static string? ToHf(string ggufName, int blockCount) =>
        Map(ggufName, blockCount, GgufLayerPrefix, HfLayerPrefix, fromHf: false);

    static string? Map(string name, int blockCount, string fromPrefix, string toPrefix, bool fromHf)
    {
        foreach (var (hf, gguf) in Global)
        {
            if (name == (fromHf ? hf : gguf)) return fromHf ? gguf : hf;
        }
        if (!name.StartsWith(fromPrefix, StringComparison.Ordinal)) return null;
        int dot = name.IndexOf('.', fromPrefix.Length);
        if (dot < 0) return null;
        var digits = name.AsSpan(fromPrefix.Length, dot - fromPrefix.Length);
        // Plain decimal only: "01" or "+1" would alias another layer's name.
        if (digits.Length is 0 or > 6 || (digits.Length > 1 && digits[0] == '0')) return null;
        foreach (char c in digits)
            if (c is < '0' or > '9') return null;
        int layer = int.Parse(digits, CultureInfo.InvariantCulture);
        if (layer >= blockCount) return null;
        string suffix = name[(dot + 1)..];
        foreach (var (hf, gguf) in Layer)
        {
            if (suffix == (fromHf ? hf : gguf))
                return string.Create(CultureInfo.InvariantCulture, $"{toPrefix}{layer}.{(fromHf ? gguf : hf)}");
        }
        return null;
    }
}
