// The blocked micro-batch product (QuantKernels.MatMulRows; at 512 bits the rows-in-lanes tile,
// Block32GemmLanes) at the edges GemmKernelTests does not reach: activation
// counts around the tile and the 64-token micro-batch (1, 3, 5, 63, 64, 65), odd row counts, rows with
// every block tail, and raw blocks with extreme fp16 scales (largest finite, subnormal, zero, negative)
// and extreme quants (all nibbles 0 or 15, all Q5_0 high bits set, Q8_0 at +-127). Every output must
// equal QuantDots.ResolveGemmDot's function of the same level and micro-batch bit for bit, at every
// available level (CI also runs this namespace with AVX-512 and AVX2 switched off). Also: no
// allocation per call after the first.
using System.Buffers.Binary;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class GemmEdgeTests
{
    public static TheoryData<GgmlType> Types() => new() { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0 };

    [Theory]
    [MemberData(nameof(Types))]
    public void Odd_token_and_row_counts_equal_the_per_pair_dot(GgmlType type)
    {
        foreach (int n in new[] { 128, 256 + 96, 896 + 32 })
        {
            var c = Raw.Make(type, n, rows: 11, acts: 65, seed: n, extreme: false);
            foreach (var level in Simd.Available())
                foreach (int T in new[] { 1, 3, 5, 63, 64, 65 })
                    foreach (int rows in new[] { 1, 4, 5, 7, 11 })
                        c.Check(level, rows, T, $"{type} {level} n={n} T={T} rows={rows}");
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Extreme_scales_and_quants_equal_the_per_pair_dot(GgmlType type)
    {
        foreach (int n in new[] { 256, 512 + 64 })
            for (int seed = 0; seed < 3; seed++)
            {
                var c = Raw.Make(type, n, rows: 9, acts: 9, seed: 1000 + seed, extreme: true);
                foreach (var level in Simd.Available())
                    c.Check(level, 9, 9, $"{type} {level} n={n} seed={seed}");
            }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void A_second_product_allocates_nothing(GgmlType type)
    {
        var c = Raw.Make(type, 896, rows: 8, acts: 64, seed: 5, extreme: false);
        var y = new float[64 * 8];
        c.Run(Simd.Best, 8, 64, y);
        Assert.Equal(0, Allocations.Least(() => c.Run(Simd.Best, 8, 64, y)));
    }

    /// <summary>Weights and activations written as raw blocks (not through a quantizer), so scales and
    /// quants can sit at the ends of their ranges.</summary>
    sealed class Raw
    {
        public required GgmlType Type;
        public required int N, Rb, Ab, Rows;
        public required byte[] Wq, Xq;

        // fp16: largest finite, smallest subnormal, smallest normal, zero, negative zero, -1, 1.
        static readonly ushort[] Scales = [0x7BFF, 0x0001, 0x0400, 0x0000, 0x8000, 0xBC00, 0x3C00];

        public static Raw Make(GgmlType type, int n, int rows, int acts, int seed, bool extreme)
        {
            int bw = GgmlTypes.Info(type).TypeSize, rb = n / 32 * bw, ab = n / 32 * 34;
            var rng = new Random(seed);
            var wq = new byte[rows * rb];
            var xq = new byte[acts * ab];
            for (int b = 0; b < wq.Length / bw; b++) Block(wq.AsSpan(b * bw, bw), type, rng, extreme);
            for (int b = 0; b < xq.Length / 34; b++) Block(xq.AsSpan(b * 34, 34), GgmlType.Q8_0, rng, extreme);
            return new Raw { Type = type, N = n, Rb = rb, Ab = ab, Rows = rows, Wq = wq, Xq = xq };
        }

        /// <summary>One block: a scale (extreme or a small normal one), then quants; Q8_0 stays in
        /// [-127, 127] as the quantizers write it (the kernels negate activations).</summary>
        static void Block(Span<byte> b, GgmlType type, Random rng, bool extreme)
        {
            ushort d = extreme ? Scales[rng.Next(Scales.Length)] : (ushort)(0x2000 + rng.Next(0x1000));
            BinaryPrimitives.WriteUInt16LittleEndian(b, d);
            int mode = extreme ? rng.Next(4) : 3; // 0: all low, 1: all high, 2: alternating, 3: random
            for (int i = 2; i < b.Length; i++)
            {
                int v = mode switch { 0 => 0, 1 => 255, 2 => (i & 1) == 0 ? 0 : 255, _ => rng.Next(256) };
                if (type == GgmlType.Q8_0) v = mode switch { 0 => -127, 1 => 127, 2 => (i & 1) == 0 ? -127 : 127, _ => rng.Next(-127, 128) };
                b[i] = (byte)v;
            }
        }

        public void Run(SimdLevel level, int rows, int T, float[] y)
        {
            fixed (byte* pw = Wq) QuantKernels.MatMulRows(Type, pw, Rb, 0, rows, Xq.AsSpan(0, T * Ab), Ab, T, y, rows, N, level);
        }

        public void Check(SimdLevel level, int rows, int T, string label)
        {
            var y = new float[T * rows];
            Array.Fill(y, float.NaN);
            Run(level, rows, T, y);
            var dot = QuantDots.ResolveGemmDot(Type, level, T);
            fixed (byte* pw = Wq)
            fixed (byte* px = Xq)
                for (int t = 0; t < T; t++)
                    for (int r = 0; r < rows; r++)
                    {
                        float want = dot(pw + r * Rb, px + t * Ab, N), got = y[t * rows + r];
                        Assert.True(BitConverter.SingleToInt32Bits(got) == BitConverter.SingleToInt32Bits(want),
                            $"{label} row {r} act {t}: blocked {got:R}, per-pair dot {want:R}");
                    }
        }
    }
}
