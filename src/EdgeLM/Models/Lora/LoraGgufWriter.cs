// Writes a LoRA adapter as a GGUF file in the format llama.cpp's --lora loads (llama-adapter.cpp,
// llama_adapter_lora_init; the files convert_lora_to_gguf.py writes): general.type "adapter",
// adapter.type "lora", adapter.lora.alpha, general.architecture of the base, and for each adapted
// tensor W (GGUF dims [in, out]) an F32 "W.lora_a" with dims [in, rank] and "W.lora_b" with dims
// [rank, out], so that llama.cpp adds scale · B·A (scale = alpha / rank) to W x. Written atomically.
// Not a reader and not a merger.
using System.Globalization;
using EdgeLM.Formats.Gguf;

namespace EdgeLM.Models.Lora;

public static class LoraGgufWriter
{
    public static void Write(LoraAdapter adapter, string path, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        var w = new GgufWriter();
        w.Set("general.architecture", adapter.Architecture)
         .Set("general.type", "adapter")
         .Set("general.name", "edgelm-lora")
         .Set("adapter.type", "lora")
         .Set("adapter.lora.alpha", adapter.Alpha);
        int rank = adapter.Tensors.Count == 0 ? 0 : adapter.Tensors[0].Rank;
        if (rank > 0) w.Set("general.size_label", string.Create(CultureInfo.InvariantCulture, $"LoRA-r{rank}"));
        foreach (var t in adapter.Tensors)
        {
            // A is (rank × in) row-major: GGUF's first dimension is the row length, so [in, rank].
            w.AddTensor(t.Target + ".lora_a", t.A, t.In, t.Rank);
            w.AddTensor(t.Target + ".lora_b", t.B, t.Rank, t.Out);
        }
        w.Write(path, cancel);
    }
}
