// A low-rank adapter (LoRA, Hu et al. 2021) in memory: for some base weight matrices W (out × in),
// a pair A (rank × in) and B (out × rank) such that the adapted weight is W + scale · B·A with
// scale = alpha / rank (llama.cpp's rule; alpha 0 means scale 1). Tensors are named by the base
// tensor they adapt in GGUF naming (blk.N.attn_q.weight ...), rows row-major, so A and B are exactly
// the lora_a / lora_b tensors of llama.cpp's GGUF adapters and PEFT's lora_A / lora_B weights.
// Not a file format and not a kernel: readers, writers, training and the engine build on this.
namespace EdgeLM.Models.Lora;

/// <summary>One adapted matrix: the base tensor's name and its factors A (Rank × In) and B (Out × Rank).</summary>
public sealed record LoraTensor(string Target, int Rank, int In, int Out, float[] A, float[] B)
{
    /// <summary>Throws unless A and B have the sizes the dimensions say.</summary>
    public void Validate()
    {
        if (Rank <= 0 || In <= 0 || Out <= 0) throw new ArgumentException($"LoRA tensor '{Target}': rank {Rank}, in {In}, out {Out} must be positive");
        if (A.Length != (long)Rank * In) throw new ArgumentException($"LoRA tensor '{Target}': A has {A.Length} values, expected {Rank}×{In}");
        if (B.Length != (long)Out * Rank) throw new ArgumentException($"LoRA tensor '{Target}': B has {B.Length} values, expected {Out}×{Rank}");
    }
}

public sealed class LoraAdapter
{
    public LoraAdapter(string architecture, float alpha, IReadOnlyList<LoraTensor> tensors)
    {
        foreach (var t in tensors) t.Validate();
        Architecture = architecture;
        Alpha = alpha;
        Tensors = tensors;
    }

    /// <summary>The base model's architecture (llama, qwen2, qwen3): an adapter applies to that only.</summary>
    public string Architecture { get; }
    public float Alpha { get; }
    public IReadOnlyList<LoraTensor> Tensors { get; }

    /// <summary>The factor B·A is multiplied by, before any user scale: alpha / rank, or 1 when alpha is 0.</summary>
    public float Scale(LoraTensor t) => Alpha == 0 ? 1f : Alpha / t.Rank;
}
