// Writes any model source as a GGUF file of a chosen tensor type: matrices are converted row by row
// (dequantize → quantize), vectors (norms, biases) stay F32 as llama.cpp keeps them, and Hugging Face
// ordered llama Q/K rows are permuted to the interleaved order llama.cpp's RoPE expects (the inverse
// of what its convert_hf_to_gguf.py undoes). A row length the chosen type cannot hold falls back to
// the nearest type that can (Q8_0, else F16), as llama.cpp's quantizer does.
using System.Runtime.InteropServices;
using EdgeLM.Formats.Gguf;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Models;

public static class GgufConverter
{
    /// <summary>Writes <paramref name="src"/> to <paramref name="outPath"/>. <paramref name="tokenizerMetadata"/>
    /// adds tokenizer.* keys (replacing the source's). <paramref name="progress"/> gets (tensors done, total).</summary>
    public static void Write(IModelSource src, string outPath, GgmlType type,
        Action<GgufWriter>? tokenizerMetadata = null, IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default)
    {
        var w = new GgufWriter();
        foreach (var (key, value) in src.Metadata)
        {
            if (key is "general.alignment" or "general.file_type") continue;
            if (tokenizerMetadata is not null && key.StartsWith("tokenizer.", StringComparison.Ordinal)) continue;
            w.Set(key, value);
        }
        tokenizerMetadata?.Invoke(w);
        w.Set("general.file_type", (uint)FileType(type));

        string arch = src.Metadata.TryGetValue("general.architecture", out var a) ? a.Value as string ?? "" : "";
        bool permute = src.QkRotateHalf && arch == "llama";
        var md = new MetadataReader(src.Path, src.Metadata);
        int heads = permute ? md.Int($"{arch}.attention.head_count") : 0;
        int kvHeads = permute ? md.Int($"{arch}.attention.head_count_kv", heads) : 0;

        int done = 0, total = src.Tensors.Count;
        foreach (var t in src.Tensors)
        {
            var target = t.Dimensions.Length >= 2 && !t.Name.EndsWith(".bias", StringComparison.Ordinal) ? Fit(type, t.Dimensions[0]) : GgmlType.F32;
            int permuteHeads = !permute ? 0 : t.Name.EndsWith("attn_q.weight", StringComparison.Ordinal) ? heads
                : t.Name.EndsWith("attn_k.weight", StringComparison.Ordinal) ? kvHeads : 0;
            var entry = t;
            w.AddTensor(t.Name, target, t.Dimensions, stream =>
            {
                cancel.ThrowIfCancellationRequested();
                WriteRows(stream, entry, target, permuteHeads);
                progress?.Report((Interlocked.Increment(ref done), total));
            });
        }
        w.Write(outPath, cancel);
    }

    /// <summary>The type a row of <paramref name="cols"/> elements is stored in when <paramref name="wanted"/> is asked for.</summary>
    public static GgmlType Fit(GgmlType wanted, long cols)
    {
        if (cols % GgmlTypes.Info(wanted).BlockSize == 0) return wanted;
        if (cols % 32 == 0) return wanted is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K ? GgmlType.Q5_0 : GgmlType.Q8_0;
        return GgmlType.F16;
    }

    static unsafe void WriteRows(Stream stream, TensorEntry t, GgmlType target, int permuteHeads)
    {
        int cols = checked((int)t.Dimensions[0]);
        long rows = t.Rows;
        long srcRowBytes = GgmlTypes.RowBytes(t.Type, cols);
        var row = new float[cols];
        var outRow = new byte[GgmlTypes.RowBytes(target, cols)];
        for (long r = 0; r < rows; r++)
        {
            long from = permuteHeads > 0 ? PermutedSourceRow(r, rows, permuteHeads) : r;
            var src = new ReadOnlySpan<byte>((byte*)t.Data + from * srcRowBytes, (int)srcRowBytes);
            if (t.Type == target)
            {
                stream.Write(src);
                continue;
            }
            QuantKernels.Dequantize(t.Type, src, row);
            if (target == GgmlType.F32) stream.Write(MemoryMarshal.AsBytes(row.AsSpan()));
            else
            {
                QuantKernels.QuantizeReference(target, row, outRow);
                stream.Write(outRow);
            }
        }
    }

    /// <summary>Row r of the interleaved (GGUF llama) layout comes from this row of the rotate-half
    /// (Hugging Face) layout: within each head of D rows, new row 2i + j is old row j·D/2 + i.</summary>
    public static long PermutedSourceRow(long r, long rows, int heads)
    {
        long D = rows / heads, half = D / 2;
        long head = r / D, within = r % D;
        long i = within / 2, j = within % 2;
        return head * D + j * half + i;
    }

    /// <summary>llama_ftype for a file whose matrices are all <paramref name="t"/> (general.file_type).</summary>
    public static int FileType(GgmlType t) => t switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q4_0 => 2,
        GgmlType.Q4_1 => 3,
        GgmlType.Q8_0 => 7,
        GgmlType.Q5_0 => 8,
        GgmlType.Q5_1 => 9,
        GgmlType.Q2_K => 10,
        GgmlType.Q3_K => 12,  // Q3_K_M
        GgmlType.Q4_K => 15,  // Q4_K_M
        GgmlType.Q5_K => 17,  // Q5_K_M
        GgmlType.Q6_K => 18,
        GgmlType.BF16 => 32,
        _ => 0,
    };
}
