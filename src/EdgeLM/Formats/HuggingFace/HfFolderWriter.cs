// Any llama / qwen2 / qwen3 model source -> a Hugging Face folder (model.safetensors or shards with
// model.safetensors.index.json, and config.json): the reverse of convert_hf_to_gguf.py, for
// `edgelm convert model.gguf OUTDIR`. Names go back through HfTensorNames, ggml dimensions are
// reversed to [out, in], and for llama sources whose Q/K rows are in GGUF (interleaved) order the
// converter's permute is undone, row by row, so no tensor is copied whole. F32/F16/BF16 tensors are
// written as they are; quantized ones go through the caller's dequantize callback to F32 (this file
// implements no dequantization). tokenizer.json is not written here.
using EdgeLM.Formats.Safetensors;
using EdgeLM.Models;
using EdgeLM.Tensors;

namespace EdgeLM.Formats.HuggingFace;

/// <summary>Options for <see cref="HfFolderWriter.Write"/>.</summary>
/// <param name="MaxShardBytes">Largest shard before the folder is split (transformers' default 5 GB).</param>
/// <param name="Dequantize">Turns a quantized tensor into its ElementCount floats; required when the source has any.</param>
/// <param name="RopeScaling">config.json rope_scaling to write instead of recovering it from rope_freqs.weight.</param>
public sealed record HfWriteOptions(
    long MaxShardBytes = SafetensorsWriter.DefaultMaxShardBytes,
    Func<TensorEntry, float[]>? Dequantize = null,
    HfRopeScaling? RopeScaling = null);

public static class HfFolderWriter
{
    /// <summary>Writes the folder; returns the file names written.</summary>
    public static IReadOnlyList<string> Write(IModelSource source, string folder, HfWriteOptions? options = null, CancellationToken cancel = default)
    {
        options ??= new HfWriteOptions();
        var config = HfConfigWriter.FromSource(source, options.RopeScaling);
        var writer = new SafetensorsWriter().SetMetadata("format", "pt");
        // Only llama is permuted by the converter; a source already in rotate-half order is left alone.
        bool unpermute = config.GgufArchitecture == "llama" && !source.QkRotateHalf;
        var counts = new Dictionary<GgmlType, long>();
        foreach (var t in source.Tensors)
        {
            string? hf = HfTensorNames.ToHf(t.Name, config.NumLayers);
            if (hf is null)
            {
                if (t.Name == "rope_freqs.weight") continue; // carried by config.json rope_scaling
                throw new InvalidModelFileException(source.Path, $"tensor '{t.Name}' has no Hugging Face name for {config.Architecture}");
            }
            int groups = !unpermute ? 0
                : t.Name.EndsWith(".attn_q.weight", StringComparison.Ordinal) || t.Name.EndsWith(".attn_q.bias", StringComparison.Ordinal) ? config.NumHeads
                : t.Name.EndsWith(".attn_k.weight", StringComparison.Ordinal) || t.Name.EndsWith(".attn_k.bias", StringComparison.Ordinal) ? config.NumKvHeads
                : 0;
            long[] shape = t.Dimensions.Reverse().ToArray();
            if (SafetensorsFile.DTypeName(t.Type) is not null)
            {
                writer.AddTensor(hf, t.Type, shape, s => WriteRows(s, t, groups));
                counts[t.Type] = counts.GetValueOrDefault(t.Type) + t.ElementCount;
            }
            else
            {
                var dequantize = options.Dequantize
                    ?? throw new InvalidModelFileException(source.Path, $"tensor '{t.Name}' is {t.Type}: writing safetensors needs a dequantize callback");
                writer.AddTensor(hf, GgmlType.F32, shape, s => WriteDequantized(s, t, dequantize, groups));
                counts[GgmlType.F32] = counts.GetValueOrDefault(GgmlType.F32) + t.ElementCount;
            }
        }
        var files = writer.WriteFolder(folder, options.MaxShardBytes, cancel).ToList();
        GgmlType main = counts.Count == 0 ? GgmlType.F32 : counts.MaxBy(kv => kv.Value).Key;
        string dtype = main switch { GgmlType.F16 => "float16", GgmlType.BF16 => "bfloat16", _ => "float32" };
        bool bias = source.Tensors.Any(t => t.Name.EndsWith(".attn_q.bias", StringComparison.Ordinal));
        HfConfigWriter.Write(config, Path.Combine(folder, "config.json"), dtype, bias);
        files.Add("config.json");
        return files;
    }

    /// <summary>Source row of Hugging Face row <paramref name="hfRow"/> when undoing
    /// convert_hf_to_gguf.py's permute, which views the rows as (groups, 2, half) and swaps the last
    /// two axes: GGUF row h*2*half + 2*i + j holds Hugging Face row h*2*half + j*half + i.</summary>
    public static long GgufRowOf(long hfRow, long rows, int groups)
    {
        long half = rows / groups / 2;
        long h = hfRow / (2 * half), r = hfRow % (2 * half);
        long j = r / half, i = r % half;
        return h * 2 * half + 2 * i + j;
    }

    static unsafe void WriteRows(Stream s, TensorEntry t, int groups)
    {
        byte* p = (byte*)t.Data;
        var (rows, rowLength) = PermutedRows(t);
        long rowBytes = t.ByteSize / rows;
        if (groups == 0)
        {
            // Chunks below 2 GiB so tensors of any size stream out.
            for (long at = 0; at < t.ByteSize; at += 1 << 30)
                s.Write(new ReadOnlySpan<byte>(p + at, (int)Math.Min(1 << 30, t.ByteSize - at)));
            return;
        }
        CheckPermutable(t, rows, groups);
        for (long r = 0; r < rows; r++)
            s.Write(new ReadOnlySpan<byte>(p + GgufRowOf(r, rows, groups) * rowBytes, (int)rowBytes));
    }

    static void WriteDequantized(Stream s, TensorEntry t, Func<TensorEntry, float[]> dequantize, int groups)
    {
        float[] data = dequantize(t);
        if (data.LongLength != t.ElementCount)
            throw new InvalidOperationException($"dequantize of '{t.Name}' returned {data.LongLength} floats, expected {t.ElementCount}");
        var (rows, rowLength) = PermutedRows(t);
        if (groups != 0) CheckPermutable(t, rows, groups);
        for (long r = 0; r < rows; r++)
        {
            long from = groups == 0 ? r : GgufRowOf(r, rows, groups);
            s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan((int)(from * rowLength), rowLength)));
        }
    }

    /// <summary>The units the permute moves: rows of a matrix, single elements of a bias vector.</summary>
    static (long Rows, int RowLength) PermutedRows(TensorEntry t) =>
        t.Dimensions.Length == 1 ? (t.Dimensions[0], 1) : (t.Rows, checked((int)t.Dimensions[0]));

    static void CheckPermutable(TensorEntry t, long rows, int groups)
    {
        if (rows % (2L * groups) != 0)
            throw new InvalidOperationException($"tensor '{t.Name}': {rows} rows do not split into {groups} heads of pairs");
    }
}
