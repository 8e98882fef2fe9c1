// What every model file format becomes before the engine sees it: GGUF-named tensors viewed in
// place and GGUF metadata keys. A GGUF file is that already; a safetensors folder or a llama2.c
// checkpoint maps its names and config onto it, so one loader serves every format.
using EdgeLM.Formats.Gguf;
using EdgeLM.Tensors;

namespace EdgeLM.Models;

/// <summary>A tensor viewed in place. Dimensions are in ggml order: [0] is the row length.</summary>
public sealed record TensorEntry(string Name, GgmlType Type, long[] Dimensions, nint Data, long ByteSize)
{
    public long ElementCount => Dimensions.Aggregate(1L, (a, d) => a * d);
    public long Rows => ElementCount / Dimensions[0];
    public long RowBytes => ByteSize / Rows;

    public unsafe ReadOnlySpan<byte> Bytes =>
        ByteSize <= int.MaxValue ? new ReadOnlySpan<byte>((void*)Data, (int)ByteSize)
        : throw new InvalidOperationException($"tensor '{Name}' is larger than 2 GiB; read it by rows");
}

public interface IModelSource : IDisposable
{
    /// <summary>The file or folder the model came from, for messages.</summary>
    string Path { get; }

    /// <summary>Metadata under GGUF keys (general.architecture, {arch}.block_count, tokenizer.ggml.*, ...).</summary>
    IReadOnlyDictionary<string, GgufValue> Metadata { get; }

    /// <summary>Tensors under GGUF names (token_embd.weight, blk.{i}.attn_q.weight, ...).</summary>
    IReadOnlyList<TensorEntry> Tensors { get; }

    /// <summary>True when the rows of attn_q / attn_k are in Hugging Face "rotate half" order (as in
    /// safetensors checkpoints of llama models): the engine then applies NeoX-style RoPE to them, and
    /// a GGUF writer of the llama architecture permutes them to the interleaved order llama.cpp expects.</summary>
    bool QkRotateHalf { get; }

    /// <summary>Fills dst with the bytes at a tensor address (in <see cref="TensorEntry.Data"/>) read from the file
    /// behind the mapping, so that a private copy does not also leave the mapped pages resident; false when the
    /// address is not in a mapped file of this source (the caller then copies through the pointer).</summary>
    unsafe bool TryRead(nint at, Span<byte> dst) => false;

    /// <summary>Drops the mapped pages of the range at a tensor address from this process's memory (a private copy
    /// serves it now; a later read pages it in again); false when this source cannot (nothing changes then).</summary>
    unsafe bool Evict(nint at, long length) => false;
}
