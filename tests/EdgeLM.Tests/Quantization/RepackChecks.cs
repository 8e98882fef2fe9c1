// What every test of a sixteen-row decode layout (DecodeRepack) checks, in one place: over 53 rows (three
// full groups and a padded one) and row ranges that start and end inside a group, at each width this CPU
// runs, every output of the layout's Rows must equal its scalar reference order bit for bit, the slots
// around the range must stay untouched, a warm product must allocate nothing (it runs per token), and
// the rows unpacked from the layout (what prompts read) must be the file's bytes.
using System.Runtime.Intrinsics.X86;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

internal static unsafe class RepackChecks
{
    public const int Rows = 53;

    static readonly (int Start, int End)[] Ranges = [(0, Rows), (3, 19), (15, 17), (16, 48), (31, 32), (50, Rows), (5, 6), (8, 9)];

    /// <summary>The widths this CPU runs: 512 bits (sixteen rows per register), 256 (two halves of eight).</summary>
    public static IEnumerable<SimdLevel> Levels()
    {
        if (Avx512BW.IsSupported) yield return SimdLevel.Vector512;
        if (Avx2.IsSupported && Fma.IsSupported) yield return SimdLevel.Vector256;
    }

    /// <summary>A Q4_0, Q5_0 or Q8_0 matrix (Rows rows of n) repacked, against Block32GemmLanes.ReferenceDot.</summary>
    public static void Block32(GgmlType type, byte[] wq, byte[] xq, int n, string what)
    {
        int rb = (int)GgmlTypes.RowBytes(type, n);
        fixed (byte* pw = wq)
        fixed (byte* px = xq)
        {
            byte* packed = DecodeRepack.Create(type, pw, rb, Rows, n);
            Assert.True(packed != null, $"{type} {what} n={n}: finite scales were not repacked");
            try
            {
                var want = new float[Rows];
                for (int r = 0; r < Rows; r++) want[r] = Block32GemmLanes.ReferenceDot(type, pw + r * rb, px, n);
                AllRanges(type, packed, n, px, want, $"{type} {what}");
                RoundTrip(type, packed, wq, n, $"{type} {what}");
            }
            finally
            {
                DecodeRepack.Free(packed);
            }
        }
    }

    /// <summary>Every range at every width against x must give want; once warm, a product allocates nothing.</summary>
    public static void AllRanges(GgmlType type, byte* packed, int n, byte* x, float[] want, string label)
    {
        foreach (var level in Levels())
        {
            foreach (var (r0, r1) in Ranges)
                CheckRange(type, packed, n, x, want, level, r0, r1, $"{label} {level} n={n}");
            var y = new float[Rows];
            nint w0 = (nint)packed, x0 = (nint)x; // pointers a lambda can capture
            long allocated = Allocations.Least(() =>
            {
                fixed (float* py = y) DecodeRepack.Rows(type, (byte*)w0, Rows, n, 0, Rows, (byte*)x0, py, level);
            });
            Assert.True(allocated == 0, $"{label} {level} n={n}: a product allocated {allocated} bytes");
        }
    }

    static readonly (int Start, int End)[] RowRanges = [(0, Rows), (0, 16), (16, 48), (32, Rows), (48, Rows), (16, 17)];

    /// <summary>DecodeRepack.UnpackRows gives the file's rows back byte for byte (rows wq, Rows x n of this type)
    /// for ranges that start at a group and end anywhere, the padded last group included, and writes nothing
    /// past the range.</summary>
    public static void RoundTrip(GgmlType type, byte* packed, byte[] wq, int n, string label)
    {
        int rb = (int)GgmlTypes.RowBytes(type, n);
        foreach (var (r0, r1) in RowRanges)
        {
            var rows = new byte[(r1 - r0) * rb + 64];
            Array.Fill(rows, (byte)0xA5);
            fixed (byte* pr = rows) DecodeRepack.UnpackRows(type, packed, Rows, n, r0, r1, pr);
            for (int i = 0; i < (r1 - r0) * rb; i++)
                if (rows[i] != wq[r0 * rb + i])
                    Assert.Fail($"{label} n={n} rows [{r0},{r1}): byte {i % rb} of row {r0 + i / rb} is 0x{rows[i]:x2}, the file's 0x{wq[r0 * rb + i]:x2}");
            Assert.All(rows[((r1 - r0) * rb)..], b => Assert.Equal(0xA5, b));
        }
    }

    /// <summary>Rows [r0, r1) against x must equal want bit for bit; the slots around them stay NaN.</summary>
    static void CheckRange(GgmlType type, byte* packed, int n, byte* x, float[] want, SimdLevel level, int r0, int r1, string label)
    {
        var y = new float[Rows + 2];
        Array.Fill(y, float.NaN);
        fixed (float* py = y) DecodeRepack.Rows(type, packed, Rows, n, r0, r1, x, py + 1 + r0, level);
        for (int i = 0; i < y.Length; i++)
        {
            int r = i - 1;
            string at = $"{label} [{r0},{r1}) row {r}";
            if (r < r0 || r >= r1)
            {
                Assert.True(float.IsNaN(y[i]), $"{at}: slot was written");
                continue;
            }
            Assert.True(BitConverter.SingleToInt32Bits(y[i]) == BitConverter.SingleToInt32Bits(want[r]),
                $"{at}: repacked {y[i]:R} (0x{BitConverter.SingleToInt32Bits(y[i]):x8}), reference order {want[r]:R} (0x{BitConverter.SingleToInt32Bits(want[r]):x8})");
        }
    }
}
