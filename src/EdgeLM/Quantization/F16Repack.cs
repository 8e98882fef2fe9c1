// F16 weights repacked once at load into groups of sixteen rows, and the decode product (every weight row
// against ONE F16 activation row) over them at 512 bits: the rows-in-lanes idea of Q4_0Repack (read its
// header) for half-precision weights.
//
// Why: the row-by-row kernel (F16Rows) widens the activation once per product into floats (value · 2^112,
// 4 bytes an element), walks it once per row and ends each row with a horizontal sum and a check for
// infinities. Here a group reads each activation element once for sixteen rows (one broadcast), the weights
// stay one sequential stream (two rows or column blocks read at once measured 3-4x slower from DRAM on this
// machine), no row needs a horizontal sum and the check is done once, at load. Measured (KernelBench, one
// thread, huge pages): in cache 1.4-1.6x F16Rows at rows of 896 and 2,048; from memory 0.98-1.00 of a plain
// read against F16Rows' 0.92-0.95; rows of 8,192, whose float activation and the row streaming past it no
// longer fit the 32 KB L1 together, read at half the speed of short rows through F16Rows.
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
// does. Needs AVX-512 F + BW and n a multiple of 4; other matrices and CPUs keep F16Rows.
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

    /// <summary>Whether a row length gets this layout: whole steps of four.</summary>
    public static bool Fits(int n) => n > 0 && n % 4 == 0;

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

    /// <summary>The first <paramref name="count"/> rows of one group (n halves each) back in the file's layout,
    /// row r at dst + r * rb: Pack's inverse, half for half (DecodeRepack.UnpackRows: prompts read rows). Per four
    /// pairs of elements, a row's 128-bit lane of each of four 64-byte steps holds rows 4L..4L+3 (element j, then
    /// element j + 1): a shuffle puts each row's two halves side by side, a 4 x 4 transpose of those dwords gives
    /// each row eight consecutive elements.</summary>
    public static void Unpack(byte* group, int n, int count, byte* dst, long rb)
    {
        var pairs = Vector128.Create((byte)0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
        int j = 0;
        for (; j + 8 <= n; j += 8)
        {
            byte* step = group + (long)j * 32; // four steps of 64 bytes: element pairs j/2 .. j/2 + 3
            for (int lane = 0; lane < 4 && 4 * lane < count; lane++)
            {
                byte* q = step + 16 * lane;
                var a = Vector128.Shuffle(Vector128.Load(q), pairs).AsUInt32();
                var b = Vector128.Shuffle(Vector128.Load(q + 64), pairs).AsUInt32();
                var c = Vector128.Shuffle(Vector128.Load(q + 128), pairs).AsUInt32();
                var d = Vector128.Shuffle(Vector128.Load(q + 192), pairs).AsUInt32();
                var ab0 = Sse2.UnpackLow(a, b).AsUInt64(); // rows k=0,1: pair of a, pair of b
                var cd0 = Sse2.UnpackLow(c, d).AsUInt64();
                var ab1 = Sse2.UnpackHigh(a, b).AsUInt64(); // rows k=2,3
                var cd1 = Sse2.UnpackHigh(c, d).AsUInt64();
                byte* row = dst + 4 * lane * rb + 2L * j;
                int left = count - 4 * lane;
                Vector128.Store(Sse2.UnpackLow(ab0, cd0), (ulong*)row);
                if (left > 1) Vector128.Store(Sse2.UnpackHigh(ab0, cd0), (ulong*)(row + rb));
                if (left > 2) Vector128.Store(Sse2.UnpackLow(ab1, cd1), (ulong*)(row + 2 * rb));
                if (left > 3) Vector128.Store(Sse2.UnpackHigh(ab1, cd1), (ulong*)(row + 3 * rb));
            }
        }
        for (; j < n; j += 2)
        {
            ushort* u = (ushort*)group + (long)j * GroupRows;
            for (int r = 0; r < count; r++)
            {
                ushort* to = (ushort*)(dst + r * rb) + j;
                to[0] = u[8 * (r / 4) + r % 4];
                to[1] = u[8 * (r / 4) + r % 4 + 4];
            }
        }
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
