// Blocked matrix multiply (prompt processing) of 32-element-block weights (Q8_0, Q5_0, Q4_0) against
// Q8_0 activations at 512 bits: tiles of 4 weight rows x TC.N activation rows, the integer partial
// sums and float accumulators in registers, each weight block unpacked once per tile and each
// activation block loaded once per four rows.
//
// Bit-identity with the single-row dot (Block32Simd.Dot512 / Dot512Q4_0) decides the shape. That dot
// keeps two 16-lane accumulators per (row, activation): acc0 takes blocks 4k and 4k+1 (one block per
// 256-bit half), acc1 blocks 4k+2 and 4k+3; the result is Sum(acc0 + acc1) plus the 256-bit tail.
// Two accumulators per output would fill the 32 registers at 4 x 2 outputs (Block32Multi). But acc0
// never reads the blocks acc1 reads, so the tile runs two passes over the row: pass 0 builds every
// acc0 of the tile, pass 2 every acc1, with one accumulator per output live at a time: 4 x 4 outputs
// in 16 registers. Same integer lane sums, same scale products (fp16 scales widened exactly, one
// float multiply dx * dy), same FMA order per lane, same reduction: bit-identical per output.
// Scales: the activations' are widened once per call (for all row tiles), a row tile's once per tile.
// Not the single-row or decode path (VecDotRows), and not for fewer than four whole blocks per row
// (those take Block32Multi, which handles rows and activations outside whole tiles too).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal interface ITileCount { static abstract int N { get; } }
internal struct ThreeActivations : ITileCount { public static int N => 3; }
internal struct FourActivations : ITileCount { public static int N => 4; }

[SkipLocalsInit]
internal static unsafe class Block32Gemm
{
    const int QK = 32, YB = 34, R = 4; // elements per block, sizeof(BlockQ8_0), weight rows per tile

    // Widened scales: activations (na, 4 * steps); the current row tile's (R, 4 * steps) as read, then
    // (steps, R * 4) interleaved, then spread for the passes: (2 passes, steps, R) vectors of 16 lanes,
    // lanes 0..7 the scale of block 4s + 2p, lanes 8..15 of block 4s + 2p + 1. Spreading the weight
    // scales once per row tile (instead of once per pair) keeps the pass free of four index registers,
    // which the 16 accumulators and the unpacked weights need.
    [ThreadStatic] static float[]? t_scales;

    /// <summary>y[t * ys + r] = dot(W[r], x_t) for r in [0, rows), t in [0, na); W rows rb bytes apart,
    /// activations ab bytes apart (the signature of Block32Multi.Rows).</summary>
    public static void Rows<T>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n) where T : IPair512 =>
        Rows<T, FourActivations>(w, rb, rows, a, ab, na, y, ys, n);

    public static void Rows<T, TC>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n)
        where T : IPair512 where TC : ITileCount
    {
        int steps = n / QK / 4, C = TC.N;
        if (steps == 0 || rows < R || na < C)
        {
            Block32Multi.Rows<T>(w, rb, rows, a, ab, na, y, ys, n);
            return;
        }
        int need = 4 * steps * (na + 2 * R) + 2 * steps * R * 16 + 16;
        var buf = t_scales is { } s && s.Length >= need ? s : (t_scales = new float[need]);
        fixed (float* sc = buf)
        {
            float* sy = sc, sx = sc + 4 * steps * na;
            // 64-byte aligned: the pass reads these as memory operands.
            var ex = (Vector512<float>*)(((nint)(sx + 8 * R * steps) + 63) & ~(nint)63);
            for (int t = 0; t < na; t++) WidenScales(a + t * ab, YB, steps, sy + 4 * t * steps);
            int r = 0;
            for (; r + R <= rows; r += R)
            {
                byte* wr = w + r * rb;
                RowTileScales(wr, rb, T.BlockBytes, steps, sx, ex);
                int t = 0;
                for (; t + C <= na; t += C)
                    Tile<T, TC>(wr, rb, a + t * ab, ab, ex, sy + 4 * t * steps, 4 * steps, y + (long)t * ys + r, ys, n);
                if (t < na) Block32Multi.Rows<T>(wr, rb, R, a + t * ab, ab, na - t, y + (long)t * ys + r, ys, n);
            }
            if (r < rows) Block32Multi.Rows<T>(w + r * rb, rb, rows - r, a, ab, na, y + r, ys, n);
        }
    }

    /// <summary>A row tile's weight scales spread for the passes (ex, see t_scales); sx is 8 * R * steps
    /// floats of scratch.</summary>
    internal static void RowTileScales(byte* wr, long rb, int b, int steps, float* sx, Vector512<float>* ex)
    {
        for (int k = 0; k < R; k++) WidenScales(wr + k * rb, b, steps, sx + 4 * k * steps);
        Interleave(sx, steps);
        Spread(sx + 4 * R * steps, steps, ex);
    }

    /// <summary>The fp16 scales of the first 4 * steps blocks (stride b) as floats, four at a time with
    /// the vector widening Dot512 uses.</summary>
    static void WidenScales(byte* p, int b, int steps, float* dst)
    {
        for (int s = 0; s < steps; s++, p += 4 * b, dst += 4)
            QuantMath.HalfToFloat(Vector128.Create((uint)*(ushort*)p, *(ushort*)(p + b), *(ushort*)(p + 2 * b), *(ushort*)(p + 3 * b))).Store(dst);
    }

    /// <summary>Copies the row tile's scales (R rows of 4 * steps) to the layout a step loads in one
    /// vector: step s at 16 s, row k's block 4s + j in lane 4k + j (as Block32Multi's sx).</summary>
    static void Interleave(float* sx, int steps)
    {
        float* dst = sx + 4 * R * steps;
        for (int s = 0; s < steps; s++)
            for (int k = 0; k < R; k++)
                Vector128.Load(sx + 4 * (k * steps + s)).Store(dst + 16 * s + 4 * k);
    }

    /// <summary>ex[(p * steps + s) * R + k] = lanes 0..7 the scale of row k's block 4s + 2p, 8..15 of
    /// block 4s + 2p + 1 (what Dot512 spreads with vpermps before multiplying).</summary>
    static void Spread(float* sx, int steps, Vector512<float>* ex)
    {
        for (int p = 0; p < 2; p++)
            for (int s = 0; s < steps; s++)
            {
                var v = Vector512.Load(sx + 16 * s);
                for (int k = 0; k < R; k++) ex[(p * steps + s) * R + k] = Avx512F.PermuteVar16x32(v, Lanes(4 * k + 2 * p));
            }
    }

    /// <summary>Four rows against C activations: pass 0 and pass 2 (see the header), then each output's
    /// reduction and tail exactly as Dot512 finishes.</summary>
    static void Tile<T, TC>(byte* w, long rb, byte* a, long ab, Vector512<float>* ex, float* sy, int syStride, float* y, int ys, int n)
        where T : IPair512 where TC : ITileCount
    {
        var acc0 = stackalloc Vector512<float>[R * 4];
        var acc1 = stackalloc Vector512<float>[R * 4];
        int steps = n / QK / 4;
        Pass<T, TC>(w, rb, a, ab, ex, sy, syStride, steps, 0, acc0);
        Pass<T, TC>(w, rb, a, ab, ex + steps * R, sy, syStride, steps, 2, acc1);
        int rest = n - 4 * QK * steps;
        long wt = (long)4 * steps * T.BlockBytes, at = (long)4 * steps * YB;
        for (int t = 0; t < TC.N; t++)
            for (int r = 0; r < R; r++)
            {
                float sum = Vector512.Sum(acc0[4 * t + r] + acc1[4 * t + r]);
                if (rest > 0) sum += T.Tail(w + r * rb + wt, a + t * ab + at, rest);
                y[(long)t * ys + r] = sum;
            }
    }

    /// <summary>Blocks 4s + k and 4s + k + 1 of every step into one accumulator per (row, activation):
    /// c{r}{t}. The scale of row r against activation t is ex(step, r) times activation t's scales of
    /// the same blocks spread the same way: per lane the product dx * dy that Dot512 forms.</summary>
    static void Pass<T, TC>(byte* w, long rb, byte* a, long ab, Vector512<float>* ex, float* sy, int syStride, int steps, int k, Vector512<float>* acc)
        where T : IPair512 where TC : ITileCount
    {
        int b = T.BlockBytes;
        Vector512<float> c00 = default, c10 = default, c20 = default, c30 = default;
        Vector512<float> c01 = default, c11 = default, c21 = default, c31 = default;
        Vector512<float> c02 = default, c12 = default, c22 = default, c32 = default;
        Vector512<float> c03 = default, c13 = default, c23 = default, c33 = default;
        Vector512<int> lk = Lanes(k);
        byte* w0 = w + k * b, w1 = w0 + rb, w2 = w0 + 2 * rb, w3 = w0 + 3 * rb;
        byte* a0 = a + k * YB + 2;
        for (int s = 0; s < steps; s++, w0 += 4 * b, w1 += 4 * b, w2 += 4 * b, w3 += 4 * b, a0 += 4 * YB, ex += R, sy += 4)
        {
            var (u0, m0) = T.Weights(w0, w0 + b);
            var (u1, m1) = T.Weights(w1, w1 + b);
            var (u2, m2) = T.Weights(w2, w2 + b);
            var (u3, m3) = T.Weights(w3, w3 + b);
            Act<T>(u0, m0, u1, m1, u2, m2, u3, m3, a0, ex, sy, lk, ref c00, ref c10, ref c20, ref c30);
            Act<T>(u0, m0, u1, m1, u2, m2, u3, m3, a0 + ab, ex, sy + syStride, lk, ref c01, ref c11, ref c21, ref c31);
            Act<T>(u0, m0, u1, m1, u2, m2, u3, m3, a0 + 2 * ab, ex, sy + 2 * syStride, lk, ref c02, ref c12, ref c22, ref c32);
            if (TC.N > 3)
                Act<T>(u0, m0, u1, m1, u2, m2, u3, m3, a0 + 3 * ab, ex, sy + 3 * syStride, lk, ref c03, ref c13, ref c23, ref c33);
        }
        acc[0] = c00; acc[1] = c10; acc[2] = c20; acc[3] = c30;
        acc[4] = c01; acc[5] = c11; acc[6] = c21; acc[7] = c31;
        acc[8] = c02; acc[9] = c12; acc[10] = c22; acc[11] = c32;
        acc[12] = c03; acc[13] = c13; acc[14] = c23; acc[15] = c33;
    }

    /// <summary>One activation's block pair against the four unpacked weight pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Act<T>(Vector512<byte> u0, Vector512<sbyte> m0, Vector512<byte> u1, Vector512<sbyte> m1,
        Vector512<byte> u2, Vector512<sbyte> m2, Vector512<byte> u3, Vector512<sbyte> m3,
        byte* q, Vector512<float>* ex, float* sy, Vector512<int> lk,
        ref Vector512<float> c0, ref Vector512<float> c1, ref Vector512<float> c2, ref Vector512<float> c3) where T : IPair512
    {
        var y = Vector256.Load((sbyte*)q).ToVector512Unsafe().WithUpper(Vector256.Load((sbyte*)q + YB));
        var aux = T.Aux(y);
        var dy = Avx512F.PermuteVar16x32(Vector512.Create(Vector128.Load(sy)), lk);
        c0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u0, m0, y, aux)), ex[0] * dy, c0);
        c1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u1, m1, y, aux)), ex[1] * dy, c1);
        c2 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u2, m2, y, aux)), ex[2] * dy, c2);
        c3 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u3, m3, y, aux)), ex[3] * dy, c3);
    }

    /// <summary>vpermps indices: lane s to lanes 0..7 (the pair's first block), s + 1 to 8..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Lanes(int s) => Vector512.Create(Vector256.Create(s), Vector256.Create(s + 1));
}
