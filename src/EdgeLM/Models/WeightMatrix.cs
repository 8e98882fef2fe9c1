// A weight matrix: Rows output features, each a row of Cols input features stored in Type (ggml
// order: dims [Cols, Rows]). Data points into the mapped file, or, for a matrix read into memory at
// load (ReadIntoMemory), to a private copy of the same bytes. Optionally a second, repacked copy for the
// decode product (sixteen-row groups, for the types and CPUs DecodeRepack lists), built once at load.
// Both copies are native memory owned by the model that loaded it.
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
    /// <summary>The rows in DecodeRepack's layout for Type (64-byte aligned native memory), or null: what a decode
    /// product (one activation) reads when present. The embedding lookup always reads Data.</summary>
    public byte* Repacked { get; private set; }
    public bool IsRepacked => Repacked != null;
    /// <summary>Bytes of native memory the repacked copy holds (0 without one).</summary>
    public long RepackedBytes => IsRepacked ? DecodeRepack.Size(Type, Rows, Cols) : 0;

    /// <summary>Whether <see cref="Repack"/> would build a repacked copy on this CPU.</summary>
    public bool CanRepack => DecodeRepack.CanRepack(Type, Cols);

    /// <summary>Builds the repacked copy (idempotent; nothing for types or CPUs without one).</summary>
    internal void Repack()
    {
        if (CanRepack && Repacked == null) Repacked = DecodeRepack.Create(Type, Data, RowBytes, Rows, Cols);
    }

    /// <summary>Frees the repacked copy; decode products read Data again from then on.</summary>
    internal void FreeRepacked()
    {
        byte* p = Repacked;
        Repacked = null;
        if (p != null) DecodeRepack.Free(p);
    }

    /// <summary>Replaces Data by a private copy of the same bytes (page-aligned native memory), read from the file
    /// behind the mapping where the source can (so the mapped pages are not made resident too). On this
    /// machine a private copy streams 6-8% faster than mapped file pages, as llama.cpp's default load does.</summary>
    internal void ReadIntoMemory(IModelSource source)
    {
        if (IsInMemory) return;
        long size = RowBytes * Rows;
        byte* copy = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)Math.Max(1, size), 4096);
        try
        {
            for (long done = 0; done < size;)
            {
                int n = (int)Math.Min(size - done, 1 << 28);
                if (!source.TryRead((nint)(Mapped + done), new Span<byte>(copy + done, n)))
                    Buffer.MemoryCopy(Mapped + done, copy + done, n, n);
                done += n;
            }
        }
        catch
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(copy);
            throw;
        }
        Data = copy;
    }

    /// <summary>Frees the private copy; Data is the mapped file again.</summary>
    internal void FreeInMemory()
    {
        byte* p = Data;
        if (p == Mapped) return;
        Data = Mapped;
        System.Runtime.InteropServices.NativeMemory.AlignedFree(p);
    }

    public ReadOnlySpan<byte> Row(int r) => new(Data + r * RowBytes, (int)RowBytes);

    /// <summary>Dequantizes row r into dst (Cols floats): the embedding lookup.</summary>
    public void DequantizeRow(int r, Span<float> dst) => QuantKernels.Dequantize(Type, Row(r), dst[..Cols]);
}
