// The BF16 decode kernels (BF16Rows) against the scalar reference BF16.VecDot: the unpack widening's
// lane order for every bfloat16 value, rows with inf / NaN / subnormal weights at every tier, and
// VecDotRows giving each row the per-row dot's bits.
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class BF16KernelTests
{
    [Theory]
    [MemberData(nameof(F16KernelTests.Levels), MemberType = typeof(F16KernelTests))]
    public void Widened_activation_is_exact_in_unpack_order(int level)
    {
        const int n = 65536 + 5;
        var a = new ushort[n];
        for (int i = 0; i < n; i++) a[i] = (ushort)(i * 40503);
        var dst = new float[n];
        fixed (ushort* pa = a)
        fixed (float* pd = dst) BF16Rows.WidenActivation(pa, pd, n, (SimdLevel)level);
        int w = level / 32, step = 2 * w, body = n / step * step;
        for (int i = 0; i < n; i++)
        {
            int src = i;
            if (i < body)
            {
                int j = i % step, lane = j < w ? j : j - w;
                src = i - j + lane / 4 * 8 + lane % 4 + (j < w ? 0 : 4);
            }
            Assert.True(BitConverter.SingleToUInt32Bits(dst[i]) == (uint)a[src] << 16, $"level {level} element {i}: 0x{a[src]:x4} from {src}");
        }
    }

    [Theory]
    [MemberData(nameof(F16KernelTests.Levels), MemberType = typeof(F16KernelTests))]
    public void Special_weights_give_the_reference_result_and_rows_equal_single_dots(int level)
    {
        const int n = 131, rows = 6;
        var w = new ushort[rows * n];
        var g = RandomData.Gaussian(rows * n, 3);
        for (int i = 0; i < w.Length; i++) w[i] = QuantMath.FloatToBf16(g[i]);
        w[1 * n + 5] = 0x7f80;   // +inf in a vector step
        w[2 * n + 130] = 0xff80; // -inf in the tail
        w[3 * n + 64] = 0x7fc0;  // NaN
        w[4 * n + 7] = 0x0001;   // a float subnormal
        w[5 * n + 9] = 0x8000;   // -0
        var x = new ushort[n];
        var gx = RandomData.Gaussian(n, 4);
        for (int i = 0; i < n; i++) x[i] = QuantMath.FloatToBf16(gx[i]);
        var y = new float[rows];
        var dot = QuantDots.Resolve(GgmlType.BF16, (SimdLevel)level);
        fixed (ushort* pw = w)
        fixed (ushort* px = x)
        fixed (float* py = y)
        {
            BF16Rows.Rows((byte*)pw, 2 * n, rows, px, py, n, (SimdLevel)level);
            for (int r = 0; r < rows; r++)
            {
                float single = dot((byte*)(pw + r * n), (byte*)px, n);
                Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(y[r]), $"row {r}: {single:R} vs {y[r]:R}");
                float expected = BF16.VecDot(pw + r * n, px, n);
                if (!float.IsFinite(expected))
                {
                    Assert.True(float.IsNaN(expected) ? float.IsNaN(y[r]) : expected == y[r], $"row {r}: reference {expected}, got {y[r]}");
                    continue;
                }
                double sum = 0;
                for (int i = 0; i < n; i++) sum += Math.Abs((double)QuantMath.Bf16ToFloat(pw[r * n + i]) * QuantMath.Bf16ToFloat(px[i]));
                Assert.True(Math.Abs(expected - y[r]) <= DotCheck.ReassociationTolerance * sum + 1e-30, $"row {r}: reference {expected:R}, got {y[r]:R}");
            }
        }
    }
}
