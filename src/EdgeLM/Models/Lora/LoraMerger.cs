// Folds LoRA adapters into a base model and writes the result as GGUF: W' = W + Σ userScale · (alpha/rank) · B·A
// for each adapted matrix, computed in F32 row by row (llama.cpp's export-lora does the same). F32,
// F16 and BF16 matrices keep their type; quantized ones are dequantized, folded and requantized to
// their own type (with the reference quantizer, as the converter does), or everything goes to a type
// the caller names. Tensors no adapter touches are copied byte for byte unless a type is named.
// A Hugging Face ordered llama base is written in GGUF order (q/k rows permuted), as the converter does.
// Not the engine side (LoraStack applies adapters without merging) and not an adapter writer.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using EdgeLM.Formats.Gguf;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Models.Lora;

public static class LoraMerger
{
    /// <summary>Writes <paramref name="model"/> with <paramref name="adapters"/> folded in to <paramref name="outPath"/>
    /// (atomically). <paramref name="type"/>: every matrix in that type; null keeps each tensor's type.
    /// <paramref name="extraMetadata"/> may add keys (a tokenizer for a safetensors base).</summary>
    public static void Write(DecoderModel model, IReadOnlyList<ScaledLora> adapters, string outPath, GgmlType? type = null,
        Action<GgufWriter>? extraMetadata = null, IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default)
    {
        var src = model.Source;
        var deltas = Deltas(model, adapters);
        var w = new GgufWriter();
        foreach (var (key, value) in src.Metadata)
        {
            if (key is "general.alignment") continue;
            if (type is not null && key == "general.file_type") continue;
            w.Set(key, value);
        }
        extraMetadata?.Invoke(w);
        if (type is { } ft) w.Set("general.file_type", (uint)GgufConverter.FileType(ft));

        bool permute = src.QkRotateHalf && model.Config.Architecture == "llama";
        int done = 0, total = src.Tensors.Count;
        foreach (var t in src.Tensors)
        {
            bool matrix = t.Dimensions.Length >= 2 && !t.Name.EndsWith(".bias", StringComparison.Ordinal);
            var target = type is { } wanted ? (matrix ? GgufConverter.Fit(wanted, t.Dimensions[0]) : GgmlType.F32) : t.Type;
            int heads = !permute ? 0 : t.Name.EndsWith("attn_q.weight", StringComparison.Ordinal) ? model.Config.HeadCount
                : t.Name.EndsWith("attn_k.weight", StringComparison.Ordinal) ? model.Config.HeadCountKv : 0;
            var entry = t;
            deltas.TryGetValue(t.Name, out var delta);
            w.AddTensor(t.Name, target, t.Dimensions, stream =>
            {
                cancel.ThrowIfCancellationRequested();
                WriteRows(stream, entry, target, heads, delta);
                progress?.Report((Interlocked.Increment(ref done), total));
            });
        }
        w.Write(outPath, cancel);
    }

    /// <summary>The adapters' factors for one base tensor, with their combined scales. B rows are in GGUF order.</summary>
    sealed record Delta(List<(LoraTensor T, float Scale)> Parts);

    static Dictionary<string, Delta> Deltas(DecoderModel model, IReadOnlyList<ScaledLora> adapters)
    {
        // Building the engine's stack runs every check against the base (architecture, target, shapes).
        _ = new LoraStack(model, adapters);
        var d = new Dictionary<string, Delta>(StringComparer.Ordinal);
        foreach (var (a, scale, _) in adapters)
        {
            foreach (var t in a.Tensors)
            {
                if (!d.TryGetValue(t.Target, out var delta)) d[t.Target] = delta = new Delta([]);
                delta.Parts.Add((t, scale * a.Scale(t)));
            }
        }
        return d;
    }

    static unsafe void WriteRows(Stream stream, TensorEntry t, GgmlType target, int permuteHeads, Delta? delta)
    {
        int cols = checked((int)t.Dimensions[0]);
        long rows = t.Rows;
        long srcRowBytes = GgmlTypes.RowBytes(t.Type, cols);
        var row = new float[cols];
        var outRow = new byte[GgmlTypes.RowBytes(target, cols)];
        for (long r = 0; r < rows; r++)
        {
            long from = permuteHeads > 0 ? GgufConverter.PermutedSourceRow(r, rows, permuteHeads) : r;
            var src = new ReadOnlySpan<byte>((byte*)t.Data + from * srcRowBytes, (int)srcRowBytes);
            if (t.Type == target && delta is null)
            {
                stream.Write(src);
                continue;
            }
            QuantKernels.Dequantize(t.Type, src, row);
            // row r (GGUF order) += Σ scale · B[r, k] · A[k, :]
            if (delta is not null)
                foreach (var (lt, scale) in delta.Parts)
                    for (int k = 0; k < lt.Rank; k++)
                        TensorPrimitives.MultiplyAdd(lt.A.AsSpan(k * cols, cols), scale * lt.B[r * lt.Rank + k], row, row);
            if (target == GgmlType.F32) stream.Write(MemoryMarshal.AsBytes(row.AsSpan()));
            else
            {
                QuantKernels.QuantizeReference(target, row, outRow);
                stream.Write(outRow);
            }
        }
    }
}
