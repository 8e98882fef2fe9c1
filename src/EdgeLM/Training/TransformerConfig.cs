// The shape of a trainable llama-family decoder: the engine's ModelConfig (same fields, same
// meaning) plus what the engine learns from which tensors a file holds: a tied output head,
// Q/K/V biases (qwen2) and per-head q/k norms (qwen3). Not a file reader: see Transformer.FromModel.
using EdgeLM.Models;

namespace EdgeLM.Training;

public sealed record TransformerConfig(ModelConfig Model, bool Tied, bool QkvBias, bool QkNorm)
{
    /// <summary>A config for architecture llama, qwen2 or qwen3 with that architecture's options, the
    /// RoPE ordering the engine uses for it, eps 1e-6 and rope base 10000 (what RandomModel writes).</summary>
    public static TransformerConfig Create(string arch, int vocab, int dim, int layers, int heads, int kvHeads, int headDim,
        int ffn, int context, bool tied)
    {
        var spec = Architectures.Get("(training)", arch);
        var model = new ModelConfig
        {
            Architecture = arch,
            VocabSize = vocab,
            EmbeddingLength = dim,
            BlockCount = layers,
            HeadCount = heads,
            HeadCountKv = kvHeads,
            HeadDim = headDim,
            FeedForwardLength = ffn,
            ContextLength = context,
            RmsEps = 1e-6f,
            RopeFreqBase = 10000f,
            RopeDimensions = headDim,
            RopeNeox = spec.RopeNeox,
        };
        return new TransformerConfig(model, tied, spec.Layer.QkvBias, spec.Layer.QkNorm);
    }
}
