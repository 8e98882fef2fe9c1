// GGUF tensor names (llama.cpp's LLM_TENSOR_NAMES) for the decoder architectures here.
namespace EdgeLM.Models;

public static class TensorNames
{
    public const string TokenEmbd = "token_embd.weight";
    public const string OutputNorm = "output_norm.weight";
    public const string Output = "output.weight";
    /// <summary>Llama-3 rope scaling: per-dimension frequency divisors (n_rot / 2 floats).</summary>
    public const string RopeFreqs = "rope_freqs.weight";

    public static string AttnNorm(int i) => $"blk.{i}.attn_norm.weight";
    public static string AttnQ(int i) => $"blk.{i}.attn_q.weight";
    public static string AttnK(int i) => $"blk.{i}.attn_k.weight";
    public static string AttnV(int i) => $"blk.{i}.attn_v.weight";
    public static string AttnOutput(int i) => $"blk.{i}.attn_output.weight";
    public static string AttnQBias(int i) => $"blk.{i}.attn_q.bias";
    public static string AttnKBias(int i) => $"blk.{i}.attn_k.bias";
    public static string AttnVBias(int i) => $"blk.{i}.attn_v.bias";
    public static string AttnQNorm(int i) => $"blk.{i}.attn_q_norm.weight";
    public static string AttnKNorm(int i) => $"blk.{i}.attn_k_norm.weight";
    public static string FfnNorm(int i) => $"blk.{i}.ffn_norm.weight";
    public static string FfnGate(int i) => $"blk.{i}.ffn_gate.weight";
    public static string FfnUp(int i) => $"blk.{i}.ffn_up.weight";
    public static string FfnDown(int i) => $"blk.{i}.ffn_down.weight";
}
