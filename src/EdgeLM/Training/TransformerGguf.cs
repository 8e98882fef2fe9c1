// Moves a trainable decoder's parameters to and from GGUF, under the tensor names and metadata keys
// RandomModel writes and llama.cpp reads, so the engine (and llama.cpp) run what was trained and
// training can start from any llama / qwen2 / qwen3 GGUF the engine loads. Weights are written as
// F32; quantized inputs are dequantized on import. Not a checkpoint: optimizer state is not saved.
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Quantization;

namespace EdgeLM.Training;

public static class TransformerGguf
{
    /// <summary>A transformer for batches of (B, T) holding the weights of the model at <paramref name="path"/>;
    /// <paramref name="activations"/> bounds its activation memory.</summary>
    public static Transformer Load(string path, int B, int T, ActivationOptions? activations = null)
    {
        using var model = DecoderModel.Load(ModelSources.Open(path));
        if (model.Weights.RopeFreqs is not null)
            throw new InvalidModelFileException(path, $"tensor '{TensorNames.RopeFreqs}': Llama 3 rope scaling is not supported for training yet");
        var config = new TransformerConfig(model.Config, model.Weights.TiedOutput, model.Architecture.Layer.QkvBias, model.Architecture.Layer.QkNorm);
        var m = new Transformer(config, B, T, activations);
        var byName = model.Source.Tensors.ToDictionary(t => t.Name);
        foreach (var t in m.Parameters.Tensors)
        {
            if (!byName.TryGetValue(t.Name, out var e))
                throw new InvalidModelFileException(path, $"tensor '{t.Name}' is missing");
            if (e.ElementCount != t.Length || e.Dimensions[0] != t.Cols)
                throw new InvalidModelFileException(path, $"tensor '{t.Name}' has shape [{string.Join(", ", e.Dimensions)}], expected [{t.Cols}, {t.Rows}]");
            var dst = t.Of(m.Parameters.Data);
            var src = e.Bytes;
            int rowBytes = checked((int)e.RowBytes);
            for (int r = 0; r < t.Rows; r++)
                QuantKernels.Dequantize(e.Type, src.Slice(r * rowBytes, rowBytes), dst.Slice(r * t.Cols, t.Cols));
        }
        return m;
    }

    /// <summary>Writes the parameters as an F32 GGUF. <paramref name="vocabulary"/> adds the tokenizer keys
    /// (RandomModel.AddVocabulary of the model's size when not given).</summary>
    public static void Save(Transformer m, string path, Action<GgufWriter>? vocabulary = null, string name = "edgelm-trained")
    {
        var c = m.Config.Model;
        string a = c.Architecture;
        // GGUF llama means interleaved-pair RoPE; weights trained in rotate-half order (from a Hugging Face
        // llama) would need their Q/K rows permuted first, which is not done here.
        if (a == "llama" && c.RopeNeox)
            throw new NotSupportedException("this llama model uses rotate-half RoPE (Hugging Face order); exporting it to GGUF needs the Q/K rows permuted, which is not supported yet");
        var w = new GgufWriter();
        w.Set("general.architecture", a)
         .Set("general.name", name)
         .Set($"{a}.context_length", (uint)c.ContextLength)
         .Set($"{a}.embedding_length", (uint)c.EmbeddingLength)
         .Set($"{a}.feed_forward_length", (uint)c.FeedForwardLength)
         .Set($"{a}.block_count", (uint)c.BlockCount)
         .Set($"{a}.attention.head_count", (uint)c.HeadCount)
         .Set($"{a}.attention.head_count_kv", (uint)c.HeadCountKv)
         .Set($"{a}.attention.layer_norm_rms_epsilon", c.RmsEps)
         .Set($"{a}.rope.freq_base", c.RopeFreqBase)
         .Set($"{a}.rope.dimension_count", (uint)c.RopeDimensions);
        if (c.HeadDim * c.HeadCount != c.EmbeddingLength)
        {
            w.Set($"{a}.attention.key_length", (uint)c.HeadDim);
            w.Set($"{a}.attention.value_length", (uint)c.HeadDim);
        }
        if (c.RopeFreqScale != 1f)
        {
            w.Set($"{a}.rope.scaling.type", "linear");
            w.Set($"{a}.rope.scaling.factor", 1f / c.RopeFreqScale);
        }
        if (vocabulary is null) RandomModel.AddVocabulary(w, c.VocabSize);
        else vocabulary(w);
        foreach (var t in m.Parameters.Tensors)
        {
            var data = t.Of(m.Parameters.Data).ToArray();
            if (t.IsMatrix) w.AddTensor(t.Name, data, t.Cols, t.Rows);
            else w.AddTensor(t.Name, data, t.Cols);
        }
        w.Write(path);
    }
}
