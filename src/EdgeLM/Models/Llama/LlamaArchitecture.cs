// llama: Llama 2 / 3 / 3.2, TinyLlama, SmolLM / SmolLM2, Mistral (without sliding window), llama2.c.
// RMSNorm → attention with RoPE on interleaved pairs (GGUF stores Q/K permuted for it) → RMSNorm →
// SwiGLU; optional Q/K/V biases; Llama-3 rope scaling through rope_freqs.weight.
namespace EdgeLM.Models.Llama;

public static class LlamaArchitecture
{
    public static readonly ArchitectureSpec Spec = new("llama", RopeNeox: false, new(QkvBias: false, QkNorm: false));
}
