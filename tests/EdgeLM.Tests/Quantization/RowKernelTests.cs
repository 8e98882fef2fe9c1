// VecDotRows and VecDotRowsMulti against per-row VecDot: same function per row, so results are
// bit-identical; also the argument checks at the public boundary.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class RowKernelTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.Q5_1)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.F32)]
    public void Row_range_and_multi_activation_products_equal_single_dots(GgmlType type)
    {
        const int n = 512, rows = 7, T = 3;
        var vt = QuantKernels.VecDotType(type);
        int rb = (int)GgmlTypes.RowBytes(type, n), ab = (int)GgmlTypes.RowBytes(vt, n);
        float[] w = RandomData.Gaussian(rows * n, 9);
        var wq = new byte[rows * rb];
        for (int r = 0; r < rows; r++) QuantKernels.QuantizeReference(type, w.AsSpan(r * n, n), wq.AsSpan(r * rb, rb));
        var xq = new byte[T * ab];
        for (int t = 0; t < T; t++) QuantKernels.Quantize(vt, RandomData.Gaussian(n, 20 + t), xq.AsSpan(t * ab, ab));

        var y = new float[rows - 2];
        var ym = new float[T * (rows - 2)];
        fixed (byte* pw = wq)
        {
            QuantKernels.VecDotRows(type, pw, rb, 1, rows - 1, xq.AsSpan(0, ab), y, n);
            QuantKernels.VecDotRowsMulti(type, pw, rb, 1, rows - 1, xq, ab, T, ym, n);
        }
        for (int r = 1; r < rows - 1; r++)
        {
            Assert.Equal(QuantKernels.VecDot(type, wq.AsSpan(r * rb, rb), xq.AsSpan(0, ab), n), y[r - 1]);
            for (int t = 0; t < T; t++)
                Assert.Equal(QuantKernels.VecDot(type, wq.AsSpan(r * rb, rb), xq.AsSpan(t * ab, ab), n), ym[t * (rows - 2) + r - 1]);
        }
    }

    [Fact]
    public void Rows_that_are_not_whole_blocks_are_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => QuantKernels.Quantize(GgmlType.Q4_K, new float[100], new byte[1000]));
        Assert.Contains("256", e.Message);
        Assert.Throws<ArgumentException>(() => QuantKernels.Dequantize(GgmlType.Q8_0, new byte[10], new float[32]));
    }
}
