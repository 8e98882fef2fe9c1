// Blocked matrix multiply (prompt processing) of 32-element-block weights (Q8_0, Q5_0, Q4_0) against
// Q8_0 activations at 512 bits with AVX-512 VBMI and GFNI, the decode path's ideas (Block32Decode) in
// Block32Gemm's tile. Every activation row is prepared once per product (Prepare): per step of four
// blocks and per pass, a 192-byte record of the pair's bytes, the format's activation-only term
// (8 * sum(y) / 16 * sum(y) of four elements, or -y) and the two activation scales already spread to
// lanes 0..7 / 8..15. Every row tile's weight pairs are unpacked once (vpermb + vgf2p8affineqb,
// vpmultishiftqb for Q5_0's fifth bit: IDecode32.Weights) into a small scratch that all its activation
// tiles load (unpacking per activation tile cost 15-25% more). The inner loop is then, per (row,
// activation), one pair product (IDecode32.Dot), one conversion, one scale multiply with a memory
// operand and one FMA; no per-activation widening, permute or offset work.
//
// Bit-identical to Block32Gemm and so to Block32Simd.Dot512 / Dot512Q4_0: the same two-pass order
// (pass 0 every acc0 of the tile, pass 2 every acc1), the same exact integer lane sums (an unsigned
// nibble product less its offset is the signed product exactly), the same products dx * dy of
// exactly widened scales, the same FMA order, reduction and 256-bit tail. The model's weights are
// not repacked: the unpacked copy lives for one row tile.
// Not the decode path (one activation: Block32Decode) and not for CPUs without VBMI / GFNI
// (Block32Gemm); rows and activations outside whole tiles take Block32Multi.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class Block32GemmPrepared
{
    const int QK = 32, YB = 34, R = 4, C = 4; // block size, sizeof(BlockQ8_0), tile rows, tile activations
    const int Rec = 192; // bytes per prepared (activation, pass, step): y [0, 64), aux [64, 128), dy [128, 192)

    // Per thread, grown once and reused (no allocation per product after the first): the prepared
    // activations (na, 2 passes, steps, Rec bytes), the row tile's scales (Block32Gemm.RowTileScales), then
    // its unpacked weights (Unpack).
    [ThreadStatic] static byte[]? t_scratch;

    public static bool Supported => Avx512Vbmi.IsSupported && Gfni.V512.IsSupported;

    /// <summary>y[t * ys + r] = dot(W[r], x_t) for r in [0, rows), t in [0, na) (Block32Multi.Rows's
    /// signature); TP is the same format's Block32Multi tile for what lies outside whole tiles.</summary>
    public static void Rows<T, TP>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n)
        where T : IDecode32 where TP : IPair512
    {
        int steps = n / QK / 4;
        if (steps == 0 || rows < R || na < C)
        {
            Block32Multi.Rows<TP>(w, rb, rows, a, ab, na, y, ys, n);
            return;
        }
        long tok = 2L * steps * Rec; // bytes per prepared activation
        long need = na * tok + 4 * (8 * R * steps + 2 * steps * R * 16) + 2L * steps * R * 128 + 128;
        var buf = t_scratch is { } s && s.Length >= need ? s : (t_scratch = GC.AllocateUninitializedArray<byte>(checked((int)need), pinned: true));
        fixed (byte* pb = buf)
        {
            // 64-byte aligned: the pass reads records and spread scales as memory operands.
            byte* p = (byte*)(((nint)pb + 63) & ~(nint)63);
            var ex = (Vector512<float>*)(p + na * tok);
            float* sx = (float*)(ex + 2 * steps * R);
            byte* up = (byte*)(sx + 8 * R * steps); // the row tile's unpacked weights (see Unpack)
            for (int t = 0; t < na; t++) Prepare<T>(a + t * ab, steps, p + t * tok);
            int r = 0;
            for (; r + R <= rows; r += R)
            {
                byte* wr = w + r * rb;
                Block32Gemm.RowTileScales(wr, rb, T.BlockBytes, steps, sx, ex);
                Unpack<T>(wr, rb, steps, up);
                int t = 0;
                for (; t + C <= na; t += C)
                    Tile<T>(wr, rb, a + t * ab, ab, p + t * tok, tok, ex, up, y + (long)t * ys + r, ys, n);
                if (t < na) Block32Multi.Rows<TP>(wr, rb, R, a + t * ab, ab, na - t, y + (long)t * ys + r, ys, n);
            }
            if (r < rows) Block32Multi.Rows<TP>(w + r * rb, rb, rows - r, a, ab, na, y + r, ys, n);
        }
    }

    /// <summary>One activation row's records: pass p, step s at (p * steps + s) * Rec holds blocks
    /// 4s + 2p, 4s + 2p + 1 (p = 0, 1): their 64 bytes, T.Aux of them, and their scales widened
    /// exactly (lanes 0..7 the first block's, 8..15 the second's, as Dot512 spreads them).</summary>
    static void Prepare<T>(byte* a, int steps, byte* rec) where T : IDecode32
    {
        for (int p = 0; p < 2; p++)
            for (int s = 0; s < steps; s++, rec += Rec)
            {
                byte* b = a + (4 * s + 2 * p) * YB;
                var v = Vector256.Load((sbyte*)b + 2).ToVector512Unsafe().WithUpper(Vector256.Load((sbyte*)b + YB + 2));
                v.Store((sbyte*)rec);
                T.Aux(v, rec + 64);
                Vector512.Create(Vector256.Create(QuantMath.HalfToFloat(*(ushort*)b)), Vector256.Create(QuantMath.HalfToFloat(*(ushort*)(b + YB))))
                    .Store((float*)(rec + 128));
            }
    }

    /// <summary>Four rows against four activations: both passes, then each output's reduction and tail
    /// exactly as Dot512 finishes.</summary>
    static void Tile<T>(byte* w, long rb, byte* a, long ab, byte* rec, long tok, Vector512<float>* ex, byte* up, float* y, int ys, int n)
        where T : IDecode32
    {
        var acc0 = stackalloc Vector512<float>[R * C];
        var acc1 = stackalloc Vector512<float>[R * C];
        int steps = n / QK / 4;
        Pass<T>(up, rec, tok, ex, steps, acc0);
        Pass<T>(up + steps * R * UB<T>(), rec + steps * Rec, tok, ex + steps * R, steps, acc1);
        int rest = n - 4 * QK * steps;
        long wt = (long)4 * steps * T.BlockBytes, at = (long)4 * steps * YB;
        for (int t = 0; t < C; t++)
            for (int r = 0; r < R; r++)
            {
                float sum = Vector512.Sum(acc0[4 * t + r] + acc1[4 * t + r]);
                if (rest > 0) sum += T.Tail(w + r * rb + wt, a + t * ab + at, rest);
                y[(long)t * ys + r] = sum;
            }
    }

    /// <summary>Bytes per unpacked weight pair: u, and the sign mask for the signed format.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int UB<T>() => typeof(T) == typeof(Q8_0Decode) ? 128 : 64;

    /// <summary>The row tile's weight pairs unpacked once for all its activation tiles: pass p, step s,
    /// row k at ((p * steps + s) * R + k) * UB (what IDecode32.Weights returns).</summary>
    static void Unpack<T>(byte* w, long rb, int steps, byte* up) where T : IDecode32
    {
        int sb = 4 * T.BlockBytes, ub = UB<T>();
        for (int p = 0; p < 2; p++)
            for (int s = 0; s < steps; s++)
                for (int k = 0; k < R; k++, up += ub)
                {
                    var (u, m) = p == 0 ? T.Weights(w + k * rb + s * sb, 0) : T.Weights(w + k * rb + s * sb, 1);
                    u.Store(up);
                    if (ub > 64) m.Store((sbyte*)(up + 64));
                }
    }

    /// <summary>One pair of every step into one accumulator per (row, activation), c{r}{t}; the
    /// weights come unpacked (Unpack), so each pass only loads them.</summary>
    static void Pass<T>(byte* up, byte* rec, long tok, Vector512<float>* ex, int steps, Vector512<float>* acc)
        where T : IDecode32
    {
        int ub = UB<T>();
        Vector512<float> c00 = default, c10 = default, c20 = default, c30 = default;
        Vector512<float> c01 = default, c11 = default, c21 = default, c31 = default;
        Vector512<float> c02 = default, c12 = default, c22 = default, c32 = default;
        Vector512<float> c03 = default, c13 = default, c23 = default, c33 = default;
        for (int s = 0; s < steps; s++, up += R * ub, rec += Rec, ex += R)
        {
            var (u0, m0) = Load<T>(up);
            var (u1, m1) = Load<T>(up + ub);
            var (u2, m2) = Load<T>(up + 2 * ub);
            var (u3, m3) = Load<T>(up + 3 * ub);
            Act<T>(u0, m0, u1, m1, u2, m2, u3, m3, rec, ex, ref c00, ref c10, ref c20, ref c30);
            Act<T>(u0, m0, u1, m1, u2, m2, u3, m3, rec + tok, ex, ref c01, ref c11, ref c21, ref c31);
            Act<T>(u0, m0, u1, m1, u2, m2, u3, m3, rec + 2 * tok, ex, ref c02, ref c12, ref c22, ref c32);
            Act<T>(u0, m0, u1, m1, u2, m2, u3, m3, rec + 3 * tok, ex, ref c03, ref c13, ref c23, ref c33);
        }
        acc[0] = c00; acc[1] = c10; acc[2] = c20; acc[3] = c30;
        acc[4] = c01; acc[5] = c11; acc[6] = c21; acc[7] = c31;
        acc[8] = c02; acc[9] = c12; acc[10] = c22; acc[11] = c32;
        acc[12] = c03; acc[13] = c13; acc[14] = c23; acc[15] = c33;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<byte> U, Vector512<sbyte> M) Load<T>(byte* p) where T : IDecode32 =>
        (Vector512.Load(p), typeof(T) == typeof(Q8_0Decode) ? Vector512.Load((sbyte*)(p + 64)) : default);

    /// <summary>One prepared record q against the four unpacked weight pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Act<T>(Vector512<byte> u0, Vector512<sbyte> m0, Vector512<byte> u1, Vector512<sbyte> m1,
        Vector512<byte> u2, Vector512<sbyte> m2, Vector512<byte> u3, Vector512<sbyte> m3, byte* q, Vector512<float>* ex,
        ref Vector512<float> c0, ref Vector512<float> c1, ref Vector512<float> c2, ref Vector512<float> c3) where T : IDecode32
    {
        var dy = Vector512.Load((float*)(q + 128));
        c0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u0, m0, q, q + 64)), ex[0] * dy, c0);
        c1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u1, m1, q, q + 64)), ex[1] * dy, c1);
        c2 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u2, m2, q, q + 64)), ex[2] * dy, c2);
        c3 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Dot(u3, m3, q, q + 64)), ex[3] * dy, c3);
    }
}
