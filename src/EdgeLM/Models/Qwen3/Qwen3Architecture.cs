// qwen3: Qwen3 dense models. The llama block without biases, with an RMSNorm over each query and
// key head (attn_q_norm / attn_k_norm, applied before RoPE) and NeoX-style RoPE; head size is
// given explicitly (attention.key_length) and need not be n_embd / n_head.
namespace EdgeLM.Models.Qwen3;

public static class Qwen3Architecture
{
    public static readonly ArchitectureSpec Spec = new("qwen3", RopeNeox: true, new(QkvBias: false, QkNorm: true));
}
