// A weight matrix viewed in place: Rows output features, each a row of Cols input features stored
// in Type (ggml order: dims [Cols, Rows]). Nothing is copied; Data points into the mapped file.
// Optionally a second, repacked copy for the decode product (sixteen-row groups, for the types and CPUs
// DecodeRepack lists), built once at load: native memory owned by the model that loaded it.
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
        Data = (byte*)t.Data;
    }

    public string Name { get; }
    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public long RowBytes { get; }
    public byte* Data { get; }
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

    public ReadOnlySpan<byte> Row(int r) => new(Data + r * RowBytes, (int)RowBytes);

    /// <summary>Dequantizes row r into dst (Cols floats): the embedding lookup.</summary>
    public void DequantizeRow(int r, Span<float> dst) => QuantKernels.Dequantize(Type, Row(r), dst[..Cols]);
}
