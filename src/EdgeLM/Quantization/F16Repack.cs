// F16 weights repacked once at load into groups of sixteen rows, and the decode product (every weight row
// against ONE F16 activation row) over them at 512 bits: the rows-in-lanes idea of Q4_0Repack (read its
// header) for half-precision weights.
//
// Why (and only for long rows): the row-by-row kernel (F16Rows) widens the activation once per product into floats (value · 2^112,
// 4 bytes an element) and walks it once per row. For rows longer than ~4,000 elements (FFN-down: 4,864 in
// Qwen2.5-0.5B, 8,192 in Llama-3.2-1B) that activation and the row streaming through the 32 KB L1 no longer
// fit together, and each row reads the activation from L2 again: measured at half the speed of short rows
// from DRAM (14 against 27 GB/s). Here a group reads each activation element once for sixteen rows (one
// broadcast), the weights stay one sequential stream (two rows or column blocks read at once measured 3-4x
// slower from DRAM on this machine), and no row needs a horizontal sum.
//
// Layout (per group of 16 rows, the last group padded by repeating the last row; groups one after the
// other, each n * 32 bytes, 64-byte aligned): per pair of elements (j, j + 1), 64 bytes = 32 halves, half
// 8L + k = row 4L + k's element j and half 8L + 4 + k = its element j + 1 (L = 0..3 the 128-bit lane,
// k = 0..3), so that unpacking the low / high halves of each 128-bit lane (F16Rows.Lo / Hi) gives element j /
// j + 1 of rows 0..15 in lanes 0..15. The same bytes as the file, so memory traffic is unchanged.
//
// Order (ReferenceDot): per row, four float accumulators, element j into accumulator j mod 4 by
// acc = fma(field(w_j), a_j · 2^112, acc) (F16Rows' exact widening: the product is w_j · a_j exactly), then
// (acc0 + acc1) + (acc2 + acc3). Not F16Rows' order (its sixteen lanes per accumulator and horizontal sums):
// the two agree within float reassociation. A matrix with an infinite or NaN weight is not repacked (the
// widening would read it as a finite number); an activation's infinities and NaNs are widened as F16Rows
// does. Needs AVX-512 F + BW and n a multiple of 4 above ShortRow; other matrices and CPUs keep F16Rows.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class F16Repack
{
    const int GroupRows = DecodeRepack.GroupRows;

    [ThreadStatic] static float[]? t_activation;

    public static bool Supported => Avx512BW.IsSupported;

    /// <summary>Rows up to this long keep F16Rows: their float activation (4 bytes an element) and the row
    /// streaming past it (2 bytes) fit the 32 KB L1 together, and from DRAM, where a decode reads every
    /// weight, the layout measured no faster on them while costing a private copy of the matrix.</summary>
    public const int ShortRow = 4096;

    /// <summary>Whether a row length gets this layout: rows longer than <see cref="ShortRow"/>, whole steps of four.</summary>
    public static bool Fits(int n) => n % 4 == 0 && n > ShortRow;

    public static long Size(int rows, int n) => (long)DecodeRepack.Groups(rows) * n * GroupRows * 2;


    /// <summary>Writes the layout (see the header); false (dst then partly written) if a weight is infinite or NaN.</summary>
    public static bool Pack(byte* w, long rb, int rows, int n, byte* dst)
    {
        for (int g = 0; g < DecodeRepack.Groups(rows); g++)
            for (int r = 0; r < GroupRows; r++)
            {
                var src = (ushort*)(w + Math.Min(g * GroupRows + r, rows - 1) * rb);
                ushort* d = (ushort*)dst + (long)g * n * GroupRows + 8 * (r / 4) + r % 4;
                for (int j = 0; j < n; j += 2, d += 32)
                {
                    ushort h0 = src[j], h1 = src[j + 1];
                    if ((h0 & 0x7fff) >= 0x7c00 || (h1 & 0x7fff) >= 0x7c00) return false;
                    d[0] = h0;
                    d[4] = h1;
                }
            }
        return true;
    }

    /// <summary>y[r - start] = dot(W[r], a) for r in [start, end), W packed by <see cref="Pack"/> from a matrix
    /// of n columns, a one F16 row of n elements. Outputs outside [start, end) are not touched.</summary>
    public static void Rows(byte* packed, int n, int start, int end, byte* a, float* y)
    {
        if (start >= end) return;
        float* aw = F16Rows.Scratch(ref t_activation, n);
        // The Vector128 tier's lane order is the natural one, which the broadcasts below need.
        F16Rows.WidenActivation((ushort*)a, aw, n, SimdLevel.Vector128);
        long groupHalves = (long)n * GroupRows;
        for (int g = start / GroupRows, gEnd = (end + GroupRows - 1) / GroupRows; g < gEnd; g++)
            DecodeRepack.Store(One((ushort*)packed + g * groupHalves, aw, n), g * GroupRows, start, end, y);
    }

    /// <summary>One group's sixteen outputs: four elements (two 64-byte vectors) per step.</summary>
    static Vector512<float> One(ushort* u, float* aw, int n)
    {
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int j = 0; j < n; j += 4, u += 64)
        {
            var v0 = Vector512.Load(u);
            var v1 = Vector512.Load(u + 32);
            acc0 = Avx512F.FusedMultiplyAdd(F16Rows.Lo(v0), Vector512.Create(aw[j]), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(F16Rows.Hi(v0), Vector512.Create(aw[j + 1]), acc1);
            acc2 = Avx512F.FusedMultiplyAdd(F16Rows.Lo(v1), Vector512.Create(aw[j + 2]), acc2);
            acc3 = Avx512F.FusedMultiplyAdd(F16Rows.Hi(v1), Vector512.Create(aw[j + 3]), acc3);
        }
        return (acc0 + acc1) + (acc2 + acc3);
    }

    /// <summary>The order above in a scalar loop (the test oracle): w and a F16 rows of n elements.</summary>
    internal static float ReferenceDot(ushort* w, ushort* a, int n)
    {
        float acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        for (int j = 0; j < n; j += 4)
        {
            acc0 = MathF.FusedMultiplyAdd(F16Rows.Field(w[j]), Widened(a[j]), acc0);
            acc1 = MathF.FusedMultiplyAdd(F16Rows.Field(w[j + 1]), Widened(a[j + 1]), acc1);
            acc2 = MathF.FusedMultiplyAdd(F16Rows.Field(w[j + 2]), Widened(a[j + 2]), acc2);
            acc3 = MathF.FusedMultiplyAdd(F16Rows.Field(w[j + 3]), Widened(a[j + 3]), acc3);
        }
        return (acc0 + acc1) + (acc2 + acc3);
    }

    /// <summary>a · 2^112 as F16Rows.WidenActivation gives it.</summary>
    static float Widened(ushort h)
    {
        float f = 0;
        F16Rows.WidenActivation(&h, &f, 1, SimdLevel.Scalar);
        return f;
    }
}
