// A weight matrix: Rows output features, each a row of Cols input features stored in Type (ggml
// order: dims [Cols, Rows]). Data points into the mapped file, or, for a matrix read into memory at
// load (ReadIntoMemory), to a private copy of the same bytes. Optionally a second, repacked copy for the
// decode product (sixteen-row groups, for the types and CPUs DecodeRepack lists), built once at load.
// Both copies live in memory the model's weights own (WeightArena).
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Models;

public sealed unsafe class WeightMatrix
{
    public WeightMatrix(TensorEntry t)
    {
        Name = t.Name;
        Type = t.Type;
        Cols = checked((int)t.Dimensions[0]);
        Rows = checked((int)t.Rows);
        RowBytes = GgmlTypes.RowBytes(t.Type, Cols);
        Data = Mapped = (byte*)t.Data;
    }

    public string Name { get; }
    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public long RowBytes { get; }
    /// <summary>The rows in Type's layout: the mapped file's bytes, or a private copy of them (<see cref="IsInMemory"/>).</summary>
    public byte* Data { get; private set; }
    /// <summary>Where the rows are in the mapped file.</summary>
    public byte* Mapped { get; }
    public bool IsInMemory => Data != Mapped;
    /// <summary>Bytes of native memory the private copy of Data holds (0 while Data is the mapped file).</summary>
    public long InMemoryBytes => IsInMemory ? RowBytes * Rows : 0;
    /// <summary>The rows in DecodeRepack's layout for Type (page-aligned, in the weights' WeightArena), or null: what a decode
    /// product (one activation) reads when present, and prompts too where <see cref="PromptsReadRepacked"/>. The
    /// embedding lookup always reads Data.</summary>
    public byte* Repacked { get; private set; }
    public bool IsRepacked => Repacked != null;
    /// <summary>Bytes of native memory the repacked copy holds (0 without one).</summary>
    public long RepackedBytes => IsRepacked ? DecodeRepack.Size(Type, Rows, Cols) : 0;

    /// <summary>Whether prompt products (several activations) read the rows back from the repacked copy
    /// (DecodeRepack.UnpackRows, a few row tiles at a time) instead of Data: every repacked matrix (each layout
    /// unpacks), so the copy is the only resident one (the mapped pages are dropped after repacking).</summary>
    public bool PromptsReadRepacked => IsRepacked;

    /// <summary>Whether <see cref="Repack"/> would build a repacked copy on this CPU.</summary>
    public bool CanRepack => DecodeRepack.CanRepack(Type, Cols);

    /// <summary>Builds the repacked copy into dst (DecodeRepack.Size bytes, page-aligned, owned by the caller);
    /// false, and no copy, when the matrix keeps the mapped path (see DecodeRepack.Create).</summary>
    internal bool Repack(byte* dst)
    {
        if (Repacked != null) throw new InvalidOperationException($"{Name} is already repacked");
        if (!DecodeRepack.Pack(Type, Data, RowBytes, Rows, Cols, dst)) return false;
        Repacked = dst;
        return true;
    }

    /// <summary>Forgets the repacked copy (its memory is the caller's); decode products read Data again.</summary>
    internal void DropRepacked() => Repacked = null;

    /// <summary>Replaces Data by a private copy of the same bytes in dst (RowBytes x Rows, owned by the caller), read
    /// from the file behind the mapping where the source can (so the mapped pages are not made resident too).
    /// On this machine a private copy streams 6-8% faster than mapped file pages, as llama.cpp's default load does.</summary>
    internal void ReadIntoMemory(IModelSource source, byte* dst)
    {
        if (IsInMemory) throw new InvalidOperationException($"{Name} is already in memory");
        long size = RowBytes * Rows;
        for (long done = 0; done < size;)
        {
            int n = (int)Math.Min(size - done, 1 << 28);
            if (!source.TryRead((nint)(Mapped + done), new Span<byte>(dst + done, n)))
                Buffer.MemoryCopy(Mapped + done, dst + done, n, n);
            done += n;
        }
        Data = dst;
    }

    /// <summary>Forgets the private copy (its memory is the caller's); Data is the mapped file again.</summary>
    internal void DropInMemory() => Data = Mapped;

    public ReadOnlySpan<byte> Row(int r) => new(Data + r * RowBytes, (int)RowBytes);

    /// <summary>Dequantizes row r into dst (Cols floats): the embedding lookup.</summary>
    public void DequantizeRow(int r, Span<float> dst) => QuantKernels.Dequantize(Type, Row(r), dst[..Cols]);
}
