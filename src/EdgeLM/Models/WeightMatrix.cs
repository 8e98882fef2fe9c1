// A weight matrix viewed in place: Rows output features, each a row of Cols input features stored
// in Type (ggml order: dims [Cols, Rows]). Nothing is copied; Data points into the mapped file.
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

    public ReadOnlySpan<byte> Row(int r) => new(Data + r * RowBytes, (int)RowBytes);

    /// <summary>Dequantizes row r into dst (Cols floats): the embedding lookup.</summary>
    public void DequantizeRow(int r, Span<float> dst) => QuantKernels.Dequantize(Type, Row(r), dst[..Cols]);
}
