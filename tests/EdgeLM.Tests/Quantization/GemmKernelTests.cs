// The blocked micro-batch product (QuantKernels.MatMulRows) against the per-pair function it must equal
// bit for bit at each SIMD level (QuantDots.ResolveGemmDot: the per-pair dot, or for the 32-element
// types at 512 bits the rows-in-lanes order Block32GemmLanes.ReferenceDot) and against the scalar
// reference: row ranges that are not whole tiles and do not start at 0, activation counts around the
// tile width, a y stride wider than the range, and row lengths that leave every tail (fewer than four
// blocks, 4k + 1..3 blocks). The scalar reference bounds both within float reassociation. Every available level runs (CI also runs this
// namespace with AVX-512 and AVX2 switched off).
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Quantization;

public unsafe class GemmKernelTests
{
    const int MaxRows = 13, MaxActs = 17;

    public static TheoryData<GgmlType> Types() => new() { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K };

    [Theory]
    [MemberData(nameof(Types))]
    public void Blocked_products_equal_the_per_pair_dot_at_every_level(GgmlType type)
    {
        int bs = GgmlTypes.Info(type).BlockSize;
        int[] lengths = bs == 32 ? [32, 96, 128, 160, 192, 224, 256, 896 + 32] : [256, 1280];
        foreach (int n in lengths)
        {
            var c = Case.Make(type, n);
            foreach (var level in Simd.Available())
            {
                foreach (int T in new[] { 1, 2, 3, 4, 5, 7, 8, 9, MaxActs })
                {
                    var pair = c.PairDots(QuantDots.ResolveGemmDot(type, level, T));
                    for (int r0 = 0; r0 < 3; r0 += 2)
                        for (int r1 = r0; r1 <= MaxRows; r1 += r1 < 9 ? 1 : 4)
                        {
                            var y = c.MatMulRows(level, r0, r1, T);
                            c.Check(y, pair, r0, r1, T, $"{type} {level} n={n} T={T} rows [{r0},{r1})");
                        }
                }
            }
        }
    }

    [Fact]
    public void Outputs_outside_the_row_range_are_left_alone_and_bad_sizes_are_rejected()
    {
        var c = Case.Make(GgmlType.Q8_0, 256);
        var y = c.MatMulRows(Simd.Best, 3, 9, 5);
        for (int t = 0; t < 5; t++)
            for (int r = 0; r < MaxRows; r++)
                if (r < 3 || r >= 9) Assert.True(float.IsNaN(y[t * MaxRows + r]), $"row {r} act {t} was written");
        var e = Assert.Throws<ArgumentException>(() =>
        {
            fixed (byte* pw = c.Wq) QuantKernels.MatMulRows(GgmlType.Q8_0, pw, c.Rb, 0, 4, c.Xq, c.Ab, 5, new float[4 * MaxRows], MaxRows, 256);
        });
        Assert.Contains("too small", e.Message);
    }

    sealed class Case
    {
        public required GgmlType Type;
        public required int N, Rb, Ab;
        public required byte[] Wq, Xq;
        public required float[] W, X;

        public static Case Make(GgmlType type, int n)
        {
            var vt = QuantKernels.VecDotType(type);
            int rb = (int)GgmlTypes.RowBytes(type, n), ab = (int)GgmlTypes.RowBytes(vt, n);
            float[] w = RandomData.Gaussian(MaxRows * n, 41 + n), x = RandomData.Gaussian(MaxActs * n, 83 + n);
            var wq = new byte[MaxRows * rb];
            var xq = new byte[MaxActs * ab];
            for (int r = 0; r < MaxRows; r++) QuantKernels.QuantizeReference(type, w.AsSpan(r * n, n), wq.AsSpan(r * rb, rb));
            for (int t = 0; t < MaxActs; t++) QuantKernels.Quantize(vt, x.AsSpan(t * n, n), xq.AsSpan(t * ab, ab));
            return new Case { Type = type, N = n, Rb = rb, Ab = ab, Wq = wq, Xq = xq, W = w, X = x };
        }

        /// <summary>[r, t] = dot(W[r], x_t) by the given per-pair function.</summary>
        public float[,] PairDots(delegate*<byte*, byte*, int, float> dot)
        {
            var p = new float[MaxRows, MaxActs];
            fixed (byte* pw = Wq)
            fixed (byte* px = Xq)
                for (int r = 0; r < MaxRows; r++)
                    for (int t = 0; t < MaxActs; t++) p[r, t] = dot(pw + r * Rb, px + t * Ab, N);
            return p;
        }

        /// <summary>y (T, MaxRows), NaN where MatMulRows must not write.</summary>
        public float[] MatMulRows(SimdLevel level, int r0, int r1, int T)
        {
            var y = new float[T * MaxRows];
            Array.Fill(y, float.NaN);
            fixed (byte* pw = Wq) QuantKernels.MatMulRows(Type, pw, Rb, r0, r1, Xq.AsSpan(0, T * Ab), Ab, T, y, MaxRows, N, level);
            return y;
        }

        public void Check(float[] y, float[,] pair, int r0, int r1, int T, string label)
        {
            var scalar = QuantDots.Resolve(Type, SimdLevel.Scalar);
            fixed (byte* pw = Wq)
            fixed (byte* px = Xq)
                for (int t = 0; t < T; t++)
                    for (int r = r0; r < r1; r++)
                    {
                        float v = y[t * MaxRows + r];
                        Assert.True(BitConverter.SingleToInt32Bits(v) == BitConverter.SingleToInt32Bits(pair[r, t]),
                            $"{label} row {r} act {t}: blocked {v:R}, per-pair dot {pair[r, t]:R}");
                        float s = scalar(pw + r * Rb, px + t * Ab, N);
                        double bound = DotCheck.ReassociationTolerance * SumAbs(W.AsSpan(r * N, N), X.AsSpan(t * N, N)) + 1e-30;
                        Assert.True(Math.Abs(v - s) <= bound, $"{label} row {r} act {t}: blocked {v:R}, scalar reference {s:R}");
                    }
        }

        static double SumAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
        {
            double s = 0;
            for (int i = 0; i < a.Length; i++) s += Math.Abs((double)a[i] * b[i]);
            return s;
        }
    }
}
