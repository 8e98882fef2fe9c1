// qwen2: Qwen2 / Qwen2.5. The llama block with Q/K/V biases and NeoX-style RoPE (llama.cpp's
// LLM_ARCH_QWEN2 uses LLAMA_ROPE_TYPE_NEOX); usually a tied output head.
namespace EdgeLM.Models.Qwen2;

public static class Qwen2Architecture
{
    public static readonly ArchitectureSpec Spec = new("qwen2", RopeNeox: true, new(QkvBias: true, QkNorm: false));
}
