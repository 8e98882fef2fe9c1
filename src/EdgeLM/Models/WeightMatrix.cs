// A weight matrix viewed in place: Rows output features, each a row of Cols input features stored
// in Type (ggml order: dims [Cols, Rows]). Nothing is copied; Data points into the mapped file.
// Optionally a second, repacked copy for the decode product (Q4_0 in Q4_0Repack's sixteen-row groups,
// built once at load on AVX-512 BW or AVX2 + FMA CPUs): native memory owned by the model that loaded it.
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
    /// <summary>The rows in Q4_0Repack's layout (64-byte aligned native memory), or null: what a decode
    /// product (one activation) reads when present. The embedding lookup always reads Data.</summary>
    public byte* Repacked { get; private set; }
    public bool IsRepacked => Repacked != null;

    /// <summary>Whether <see cref="Repack"/> would build a repacked copy on this CPU.</summary>
    public bool CanRepack => Type == GgmlType.Q4_0 && Q4_0Repack.Supported && Cols % 32 == 0;

    /// <summary>Builds the repacked copy (idempotent; nothing for types or CPUs without one).</summary>
    internal void Repack()
    {
        if (CanRepack && Repacked == null) Repacked = Q4_0Repack.Create(Data, RowBytes, Rows, Cols);
    }

    /// <summary>Frees the repacked copy; decode products read Data again from then on.</summary>
    internal void FreeRepacked()
    {
        byte* p = Repacked;
        Repacked = null;
        if (p != null) Q4_0Repack.Free(p);
    }

    public ReadOnlySpan<byte> Row(int r) => new(Data + r * RowBytes, (int)RowBytes);

    /// <summary>Dequantizes row r into dst (Cols floats): the embedding lookup.</summary>
    public void DequantizeRow(int r, Span<float> dst) => QuantKernels.Dequantize(Type, Row(r), dst[..Cols]);
}
