// The Q4_K and Q6_K row kernels (decode: KQuantRows through VecDotRows) and blocked products (prefill:
// MatMulRows) against the scalar reference dot on raw blocks, not only on quantizer output: every
// 6-bit scale/min bit pattern, super-scales at the fp16 extremes (±65504, the smallest subnormal,
// zero), all-minimum and all-maximum quants, activations at ±127. The kernels keep exact integer sums
// and the reference's float expression per (row, activation), so every output must equal the
// reference bit for bit, at every SIMD level, for row ranges and activation counts around the tiles;
// where MatMulRows runs the rows-in-lanes tile (KQuantLanes) its outputs equal that tile's scalar order
// instead (QuantDots.ResolveGemmDot), which KQuantLanesTests bounds against the reference.
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Tests.Quantization;

public unsafe class KQuantKernelTests
{
    const int MaxRows = 11, MaxActs = 67; // past the prefill tile's 64 activations

    // Finite fp16 super-scales only: the kernels widen infinities and NaNs without normalizing NaN
    // payloads (model files never hold them), so bit equality is not claimed there.
    static readonly ushort[] Halves = [0x3c00, 0x7bff, 0xfbff, 0x0001, 0x83ff, 0x0000, 0x1e66, 0xa4d2];

    public static TheoryData<GgmlType> Types() => new() { GgmlType.Q4_K, GgmlType.Q6_K };

    [Theory]
    [MemberData(nameof(Types))]
    public void Row_kernels_and_blocked_products_equal_the_scalar_reference_on_raw_blocks(GgmlType type)
    {
        foreach (int n in new[] { 256, 768, 2048 })
        {
            var rnd = new Random(n + (int)type);
            int rb = (int)GgmlTypes.RowBytes(type, n), ab = (int)GgmlTypes.RowBytes(GgmlType.Q8_K, n);
            var wq = new byte[MaxRows * rb];
            var xq = new byte[MaxActs * ab];
            for (int r = 0; r < MaxRows; r++) FillRow(type, wq.AsSpan(r * rb, rb), rnd, r);
            for (int t = 0; t < MaxActs; t++) FillActivation(xq.AsSpan(t * ab, ab), rnd, t);
            var reference = new float[MaxRows, MaxActs];
            var scalar = QuantDots.Resolve(type, SimdLevel.Scalar);
            fixed (byte* pw = wq)
            fixed (byte* px = xq)
                for (int r = 0; r < MaxRows; r++)
                    for (int t = 0; t < MaxActs; t++) reference[r, t] = scalar(pw + r * rb, px + t * ab, n);

            for (int r0 = 0; r0 < 2; r0++)
                for (int r1 = r0; r1 <= MaxRows; r1++)
                {
                    var y = new float[r1 - r0];
                    fixed (byte* pw = wq) QuantKernels.VecDotRows(type, pw, rb, r0, r1, xq.AsSpan(0, ab), y, n);
                    for (int r = r0; r < r1; r++) Same(reference[r, 0], y[r - r0], $"{type} n={n} VecDotRows [{r0},{r1}) row {r}");
                    foreach (var level in Simd.Available())
                        foreach (int T in new[] { 1, 2, 3, 4, 5, 9, MaxActs })
                        {
                            var ym = new float[T * MaxRows];
                            fixed (byte* pw = wq) QuantKernels.MatMulRows(type, pw, rb, r0, r1, xq, ab, T, ym, MaxRows, n, level);
                            // The rows-in-lanes tile (AVX-512 BW, from four activations on) keeps its own
                            // order (KQuantLanes.ReferenceDot); the other kernels keep the scalar dot's.
                            var gemmDot = QuantDots.ResolveGemmDot(type, level, T);
                            bool own = level == SimdLevel.Vector512 && KQuantLanes.Supported && T >= KQuantLanes.MinActivations;
                            for (int t = 0; t < T; t++)
                                for (int r = r0; r < r1; r++)
                                {
                                    float expected;
                                    fixed (byte* pw = wq)
                                    fixed (byte* px = xq)
                                        expected = own ? gemmDot(pw + r * rb, px + t * ab, n) : reference[r, t];
                                    Same(expected, ym[t * MaxRows + r], $"{type} {level} n={n} T={T} [{r0},{r1}) row {r} act {t}");
                                }
                        }
                }
        }
    }

    static void Same(float expected, float actual, string what) =>
        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
            $"{what}: reference {expected:R} (0x{BitConverter.SingleToInt32Bits(expected):x8}), kernel {actual:R} (0x{BitConverter.SingleToInt32Bits(actual):x8})");

    /// <summary>Random bytes for every field, then per row a twist: row 1 all-zero quants, row 2 all-ones
    /// bits (the largest quants), row 3 the largest scale bytes; super-scales cycle through Halves.</summary>
    static void FillRow(GgmlType type, Span<byte> row, Random rnd, int r)
    {
        rnd.NextBytes(row);
        int size = type == GgmlType.Q4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ6_K);
        for (int b = 0; b < row.Length / size; b++)
        {
            var block = row.Slice(b * size, size);
            // Q4_K: d, dmin at 0, scales at 4, qs at 16. Q6_K: ql at 0, qh at 128, scales at 192, d at 208.
            Span<byte> quants = type == GgmlType.Q4_K ? block[16..] : block[..192];
            Span<byte> scales = type == GgmlType.Q4_K ? block[4..16] : block[192..208];
            if (r == 1) quants.Clear();
            if (r == 2) quants.Fill(0xff);
            if (r == 3) scales.Fill(type == GgmlType.Q4_K ? (byte)0xff : (byte)0x80);
            ushort d = Halves[(r + b) % Halves.Length], dmin = Halves[(r + 3 * b + 1) % Halves.Length];
            if (type == GgmlType.Q4_K)
            {
                BitConverter.TryWriteBytes(block[0..2], d);
                BitConverter.TryWriteBytes(block[2..4], dmin);
            }
            else BitConverter.TryWriteBytes(block[208..210], d);
        }
    }

    /// <summary>A Q8_K row: quants in [-127, 127] (the quantizer's range; all +127 for activation 1, all
    /// -127 for 2), their true 16-sums, and a positive or negative scale.</summary>
    static void FillActivation(Span<byte> row, Random rnd, int t)
    {
        fixed (byte* p = row)
            for (int b = 0; b < row.Length / sizeof(BlockQ8_K); b++)
            {
                var blk = (BlockQ8_K*)p + b;
                blk->D = (float)(rnd.NextDouble() * 2 - 1) * (t == 3 ? 1e-30f : 0.05f);
                for (int i = 0; i < 256; i++) blk->Qs[i] = (sbyte)(t == 1 ? 127 : t == 2 ? -127 : rnd.Next(-127, 128));
                for (int g = 0; g < 16; g++)
                {
                    int s = 0;
                    for (int i = 0; i < 16; i++) s += blk->Qs[16 * g + i];
                    blk->Bsums[g] = (short)s;
                }
            }
    }
}
