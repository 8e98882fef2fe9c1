// The shape every GGUF-named tensor of a llama / qwen2 / qwen3 model must have, from its config, in
// ggml order ([0] is the row length), and which tensors must be present. Checked once when a model
// is opened, so kernels can trust shapes afterwards.
using EdgeLM.Models;

namespace EdgeLM.Formats.HuggingFace;

public static class HfModelShapes
{
    /// <summary>The expected ggml dimensions of <paramref name="ggufName"/>, or null if the name is unknown.</summary>
    public static long[]? Expected(HfConfig c, string ggufName)
    {
        long d = c.HiddenSize, ff = c.IntermediateSize, q = (long)c.NumHeads * c.HeadDim, kv = (long)c.NumKvHeads * c.HeadDim;
        string n = ggufName.StartsWith("blk.", StringComparison.Ordinal) ? ggufName[(ggufName.IndexOf('.', 4) + 1)..] : ggufName;
        return n switch
        {
            "token_embd.weight" or "output.weight" => [d, c.VocabSize],
            "output_norm.weight" or "attn_norm.weight" or "ffn_norm.weight" => [d],
            "rope_freqs.weight" => [c.HeadDim / 2],
            "attn_q.weight" => [d, q],
            "attn_q.bias" => [q],
            "attn_k.weight" or "attn_v.weight" => [d, kv],
            "attn_k.bias" or "attn_v.bias" => [kv],
            "attn_output.weight" => [q, d],
            "attn_output.bias" => [d],
            "attn_q_norm.weight" or "attn_k_norm.weight" => [c.HeadDim],
            "ffn_gate.weight" or "ffn_up.weight" => [d, ff],
            "ffn_down.weight" => [ff, d],
            _ => null,
        };
    }

    /// <summary>Names every model of this config must have.</summary>
    public static IEnumerable<string> Required(HfConfig c)
    {
        yield return "token_embd.weight";
        yield return "output_norm.weight";
        if (!c.TieWordEmbeddings) yield return "output.weight";
        string[] perLayer = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"];
        for (int i = 0; i < c.NumLayers; i++)
        {
            foreach (string t in perLayer) yield return $"blk.{i}.{t}.weight";
            if (c.GgufArchitecture == "qwen3")
            {
                yield return $"blk.{i}.attn_q_norm.weight";
                yield return $"blk.{i}.attn_k_norm.weight";
            }
        }
    }

    /// <summary>Throws, naming the tensor, when a shape is wrong or a required tensor is missing.</summary>
    public static void Check(HfConfig c, string path, IReadOnlyList<TensorEntry> tensors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!seen.Add(t.Name))
                throw new InvalidModelFileException(path, $"tensor '{t.Name}' appears twice");
            long[] want = Expected(c, t.Name)
                ?? throw new InvalidModelFileException(path, $"tensor '{t.Name}' is not part of a {c.Architecture} model");
            if (!want.AsSpan().SequenceEqual(t.Dimensions))
                throw new InvalidModelFileException(path,
                    $"tensor '{t.Name}' has ggml shape [{string.Join(", ", t.Dimensions)}], config.json implies [{string.Join(", ", want)}]");
        }
        foreach (string name in Required(c))
        {
            if (!seen.Contains(name))
                throw new InvalidModelFileException(path, $"tensor '{name}' is missing" + (name == "output.weight" ? " (config.json says tie_word_embeddings is false)" : ""));
        }
    }
}
