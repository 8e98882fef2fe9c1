// Folds a LoRA adapter into a training Transformer's F32 weights: W ← W + scale · B·A for every
// adapted matrix (llama.cpp's merge in export-lora and PEFT's merge_and_unload do the same sum).
// Training-side only (the engine's merge of GGUF files is elsewhere); used by tests to check that
// base + adapter and the merged model agree, and by fine-tuning to export a merged model.
using EdgeLM.Models.Lora;

namespace EdgeLM.Training.Lora;

public static class LoraMerge
{
    /// <summary>Adds scale · B·A into each adapted matrix of <paramref name="parameters"/>.</summary>
    public static void Apply(TransformerParameters parameters, LoraAdapter adapter)
    {
        foreach (var t in adapter.Tensors)
        {
            ParameterTensor? w = null;
            foreach (var p in parameters.Tensors)
                if (p.Name == t.Target) { w = p; break; }
            if (w is null) throw new ArgumentException($"LoRA tensor '{t.Target}' adapts no tensor of this model");
            if (!w.Stored) throw new ArgumentException($"tensor '{t.Target}' is held outside the parameters (kept quantized); merge into a model loaded as F32");
            if (w.Rows != t.Out || w.Cols != t.In)
                throw new ArgumentException($"LoRA tensor '{t.Target}' is {t.In} → {t.Out}, the model's is {w.Cols} → {w.Rows}");
            var wd = w.Of(parameters.Data);
            float scale = adapter.Scale(t);
            int r = t.Rank, cols = t.In;
            for (int o = 0; o < t.Out; o++)
            {
                var row = wd.Slice(o * cols, cols);
                // row o += scale · Σk B[o, k] · A[k, :]
                for (int k = 0; k < r; k++)
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(t.A.AsSpan(k * cols, cols), scale * t.B[o * r + k], row, row);
            }
        }
    }
}
