// The decode product over F16 weights repacked at load into sixteen-row groups (F16Repack): over 53 rows
// (three full groups and a padded one), row ranges that start and end inside a group, lengths of 4, 68 and
// 4,864, and extreme halves (the largest finite value, subnormals, signed zeros; an activation with
// infinities and NaN). Every output must equal F16Repack.ReferenceDot bit for bit, outputs outside the range
// must stay untouched, the result must agree with the plain F16 dot (F16.VecDot) within float reassociation,
// the rows unpacked from the layout (what prompts read) must be the file's halves, and a matrix holding an
// infinite or NaN weight must not be repacked.
using System.Runtime.InteropServices;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class F16RepackTests
{
    const int Rows = 53;

    /// <summary>Both orders sum exact products (an F16 times an F16 is exact in a float), in different
    /// groupings: they differ by a few float roundings of partial sums, relative to the sum of |products|.</summary>
    const double ReassociationTolerance = 1e-5;

    public static TheoryData<int> Lengths() => new() { 4, 68, 4864 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Outputs_equal_the_reference_order(int n)
    {
        if (!F16Repack.Supported) return; // the layout is only built on AVX-512 BW CPUs
        var (w, a) = Make(n, seed: n);
        Check(w, a, n, "gaussian", againstVecDot: true);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Extreme_halves_equal_the_reference_order(int n)
    {
        if (!F16Repack.Supported) return;
        var (w, a) = Make(n, seed: 3 * n);
        ushort[] extremes = [0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x03FF, 0x0000, 0x8000, 0x0400];
        for (int r = 0; r < Rows; r += 2)
            for (int j = r % 3; j < n; j += 3) w[r * n + j] = extremes[(r + j) % extremes.Length];
        for (int j = 1; j < n; j += 5) a[j] = extremes[j % extremes.Length];
        Check(w, a, n, "extreme", againstVecDot: false);
        a[n / 2] = 0x7C00; // +inf in the activation: the same non-finite results as the reference order
        Check(w, a, n, "inf activation", againstVecDot: false);
        a[n - 1] = 0x7E00; // NaN
        Check(w, a, n, "nan activation", againstVecDot: false);
    }

    [Fact]
    public void A_matrix_with_an_infinite_or_nan_weight_is_not_repacked()
    {
        if (!F16Repack.Supported) return;
        const int n = 68;
        foreach (ushort bad in new ushort[] { 0x7C00, 0xFC00, 0x7E01 }) // +inf, -inf, NaN
        {
            var (w, _) = Make(n, seed: 1);
            w[37 * n + 41] = bad;
            fixed (ushort* pw = w) Assert.True(DecodeRepack.Create(GgmlType.F16, (byte*)pw, 2 * n, Rows, n) == null, $"weight 0x{bad:X4} was repacked");
        }
    }

    static void Check(ushort[] w, ushort[] a, int n, string what, bool againstVecDot)
    {
        fixed (ushort* pw = w)
        fixed (ushort* pa = a)
        {
            // Create builds the layout for any whole steps of four; DecodeRepack asks for it on long rows only.
            byte* packed = DecodeRepack.Create(GgmlType.F16, (byte*)pw, 2 * n, Rows, n);
            Assert.True(packed != null, $"{what}: finite weights were not repacked");
            try
            {
                RepackChecks.RoundTrip(GgmlType.F16, packed, MemoryMarshal.AsBytes(w.AsSpan()).ToArray(), n, $"F16 {what}");
                foreach (var (r0, r1) in new[] { (0, Rows), (3, 19), (15, 17), (16, 48), (31, 32), (50, Rows), (5, 6) })
                {
                    var y = new float[Rows + 2];
                    Array.Fill(y, -12345f);
                    fixed (float* py = y) F16Repack.Rows(packed, n, r0, r1, (byte*)pa, py + 1 + r0);
                    for (int i = 0; i < y.Length; i++)
                    {
                        int r = i - 1;
                        if (r < r0 || r >= r1)
                        {
                            Assert.True(y[i] == -12345f, $"{what} n={n} [{r0},{r1}): slot of row {r} was written");
                            continue;
                        }
                        float want = F16Repack.ReferenceDot(pw + r * n, pa, n);
                        // A NaN's payload and sign depend on which operand carried it: any NaN is the same answer.
                        Assert.True(BitConverter.SingleToInt32Bits(y[i]) == BitConverter.SingleToInt32Bits(want) || float.IsNaN(want) && float.IsNaN(y[i]),
                            $"{what} n={n} [{r0},{r1}) row {r}: repacked {y[i]:R}, reference order {want:R}");
                        if (!againstVecDot) continue;
                        float plain = F16.VecDot(pw + r * n, pa, n);
                        double scale = 0;
                        for (int j = 0; j < n; j++) scale += Math.Abs((double)(float)BitConverter.UInt16BitsToHalf(pw[r * n + j]) * (float)BitConverter.UInt16BitsToHalf(pa[j]));
                        Assert.True(Math.Abs(y[i] - plain) <= ReassociationTolerance * scale,
                            $"{what} n={n} row {r}: repacked {y[i]:R}, F16.VecDot {plain:R} (sum of |products| {scale:G4})");
                    }
                }
            }
            finally
            {
                DecodeRepack.Free(packed);
            }
        }
    }

    static (ushort[] W, ushort[] A) Make(int n, int seed)
    {
        float[] w = RandomData.Gaussian(Rows * n, 100 + seed), a = RandomData.Gaussian(n, 200 + seed);
        var wh = new ushort[Rows * n];
        var ah = new ushort[n];
        for (int i = 0; i < wh.Length; i++) wh[i] = BitConverter.HalfToUInt16Bits((Half)(0.05f * w[i]));
        for (int i = 0; i < n; i++) ah[i] = BitConverter.HalfToUInt16Bits((Half)a[i]);
        return (wh, ah);
    }
}
