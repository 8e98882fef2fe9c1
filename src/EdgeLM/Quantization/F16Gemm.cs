// F16 weights against a micro-batch of F16 activations (prefill): y[t · ldy + r] = dot(W[r], x_t).
// Blocked: a block of tokens is widened once (F16Rows.WidenActivation: value · 2^112, lane order of
// the tier), each block of RM weight rows is widened once per token block into raw fields
// (value · 2^-112) and then meets RN tokens at a time in RM × RN vector accumulators, so the integer
// widening is paid once per weight per token block and the inner loop is loads and FMAs only.
// Not bit-identical to the per-pair dot (one accumulator per output instead of four): the results
// agree within float reassociation. Rows holding inf/NaN, and the rows and tokens left over from
// whole tiles, go through F16Rows' row kernel (the decode kernel, with its exact fallback).
// BF16 takes the same blocks: its widening is a plain shift (exact for every value, so no fallback),
// in natural order, and leftovers use BF16's own dot.
// Not a general GEMM: F16 and BF16 only, the layout is the one QuantKernels.MatMulRows passes.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class F16Gemm
{
    /// <summary>Bytes of widened tokens kept per block: well inside L2, so every row block reads
    /// them from there.</summary>
    const int TokenBlockBytes = 512 * 1024;

    [ThreadStatic] static float[]? t_tokens;
    [ThreadStatic] static float[]? t_rows;

    public static void Rows512(byte* w, long rowBytes, int rows, byte* a, long activationRowBytes, int T, float* y, int ldy, int n) =>
        Rows(w, rowBytes, rows, a, activationRowBytes, T, y, ldy, n, SimdLevel.Vector512);

    public static void Rows256(byte* w, long rowBytes, int rows, byte* a, long activationRowBytes, int T, float* y, int ldy, int n) =>
        Rows(w, rowBytes, rows, a, activationRowBytes, T, y, ldy, n, SimdLevel.Vector256);

    public static void Bf16Rows512(byte* w, long rowBytes, int rows, byte* a, long activationRowBytes, int T, float* y, int ldy, int n) =>
        Rows(w, rowBytes, rows, a, activationRowBytes, T, y, ldy, n, SimdLevel.Vector512, bf16: true);

    public static void Bf16Rows256(byte* w, long rowBytes, int rows, byte* a, long activationRowBytes, int T, float* y, int ldy, int n) =>
        Rows(w, rowBytes, rows, a, activationRowBytes, T, y, ldy, n, SimdLevel.Vector256, bf16: true);

    static void Rows(byte* w, long rowBytes, int rows, byte* a, long activationRowBytes, int T, float* y, int ldy, int n, SimdLevel level,
        bool bf16 = false)
    {
        bool wide = level == SimdLevel.Vector512;
        int rm = wide ? 4 : 2, rn = 6;
        int kp = (n + 15) & ~15; // widened rows are zero-padded to whole vectors (16 floats)
        int tb = Math.Max(rn, TokenBlockBytes / (kp * sizeof(float)) / rn * rn);
        float* x = F16Rows.Scratch(ref t_tokens, Math.Min(T, tb) * kp);
        float* wr = F16Rows.Scratch(ref t_rows, rm * kp);
        for (int t0 = 0; t0 < T; t0 += tb)
        {
            int tc = Math.Min(tb, T - t0);
            for (int j = 0; j < tc; j++)
            {
                ushort* src = (ushort*)(a + (t0 + j) * activationRowBytes);
                if (bf16) WidenBf16(src, x + (long)j * kp, n);
                else F16Rows.WidenActivation(src, x + (long)j * kp, n, level);
                new Span<float>(x + (long)j * kp + n, kp - n).Clear();
            }
            int r = 0;
            for (; r + rm <= rows; r += rm)
            {
                bool special = false;
                for (int i = 0; i < rm; i++)
                {
                    ushort* src = (ushort*)(w + (r + i) * rowBytes);
                    if (!bf16) special |= WidenRow(src, wr + i * kp, n, kp, level);
                    else
                    {
                        WidenBf16(src, wr + i * kp, n);
                        new Span<float>(wr + i * kp + n, kp - n).Clear();
                    }
                }
                if (special)
                {
                    RowsOneByOne(w, rowBytes, r, r + rm, a, activationRowBytes, t0, tc, x, kp, y, ldy, n, level);
                    continue;
                }
                float* yt = y + (long)t0 * ldy + r;
                int j = 0;
                for (; j + rn <= tc; j += rn)
                    if (wide) Tile4x6(wr, x + (long)j * kp, kp, yt + (long)j * ldy, ldy);
                    else Tile2x6(wr, x + (long)j * kp, kp, yt + (long)j * ldy, ldy);
                for (; j < tc; j++)
                    if (wide) Tile4x1(wr, x + (long)j * kp, kp, yt + (long)j * ldy);
                    else Tile2x1(wr, x + (long)j * kp, kp, yt + (long)j * ldy);
            }
            if (bf16) Bf16OneByOne(w, rowBytes, r, rows, a, activationRowBytes, t0, tc, y, ldy, n, level);
            else RowsOneByOne(w, rowBytes, r, rows, a, activationRowBytes, t0, tc, x, kp, y, ldy, n, level);
        }
    }

    static void Bf16OneByOne(byte* w, long rowBytes, int r0, int r1, byte* a, long activationRowBytes, int t0, int tc,
        float* y, int ldy, int n, SimdLevel level)
    {
        var dot = QuantDots.Resolve(GgmlType.BF16, level);
        for (int r = r0; r < r1; r++)
            for (int j = 0; j < tc; j++)
                y[(long)(t0 + j) * ldy + r] = dot(w + r * rowBytes, a + (t0 + j) * activationRowBytes, n);
    }

    /// <summary>dst = exact floats of n bfloat16 values (the top halves of floats), natural order.</summary>
    static void WidenBf16(ushort* src, float* dst, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var h = Vector256.Load(src + i);
            Vector256.Store((Vector256.WidenLower(h) << 16).AsSingle(), dst + i);
            Vector256.Store((Vector256.WidenUpper(h) << 16).AsSingle(), dst + i + 8);
        }
        for (; i < n; i++) dst[i] = QuantMath.Bf16ToFloat(src[i]);
    }

    /// <summary>Rows [r0, r1) against tokens [t0, t0 + tc) with the decode row kernel.</summary>
    static void RowsOneByOne(byte* w, long rowBytes, int r0, int r1, byte* a, long activationRowBytes, int t0, int tc,
        float* x, int kp, float* y, int ldy, int n, SimdLevel level)
    {
        for (int r = r0; r < r1; r++)
            for (int j = 0; j < tc; j++)
                y[(long)(t0 + j) * ldy + r] = F16Rows.Dot((ushort*)(w + r * rowBytes), x + (long)j * kp,
                    (ushort*)(a + (t0 + j) * activationRowBytes), n, level);
    }

    /// <summary>dst = raw fields of w (value · 2^-112) in the tier's lane order, zero to kp; true if
    /// the row holds an inf or NaN (whose fields would read as finite numbers).</summary>
    static bool WidenRow(ushort* w, float* dst, int n, int kp, SimdLevel level)
    {
        int i = 0;
        var max512 = Vector512<ushort>.Zero;
        var max256 = Vector256<ushort>.Zero;
        if (level == SimdLevel.Vector512)
            for (; i + 32 <= n; i += 32)
            {
                var h = Vector512.Load(w + i);
                max512 = Vector512.Max(max512, h & Vector512.Create((ushort)0x7fff));
                Vector512.Store(F16Rows.Lo(h), dst + i);
                Vector512.Store(F16Rows.Hi(h), dst + i + 16);
            }
        else
            for (; i + 16 <= n; i += 16)
            {
                var h = Vector256.Load(w + i);
                max256 = Vector256.Max(max256, h & Vector256.Create((ushort)0x7fff));
                Vector256.Store(F16Rows.Lo(h), dst + i);
                Vector256.Store(F16Rows.Hi(h), dst + i + 8);
            }
        bool special = Vector512.GreaterThanOrEqualAny(max512, Vector512.Create((ushort)0x7c00))
            || Vector256.GreaterThanOrEqualAny(max256, Vector256.Create((ushort)0x7c00));
        for (; i < n; i++)
        {
            special |= (w[i] & 0x7fff) >= 0x7c00;
            dst[i] = F16Rows.Field(w[i]);
        }
        for (; i < kp; i++) dst[i] = 0;
        return special;
    }

    /// <summary>4 weight rows (kp apart) × 6 tokens (kp apart): 24 accumulators, 4 weight and 1 token
    /// register, of AVX-512's 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile4x6(float* w, float* x, int kp, float* y, long ldy)
    {
        Vector512<float> c00 = default, c10 = default, c20 = default, c30 = default, c01 = default, c11 = default, c21 = default, c31 = default;
        Vector512<float> c02 = default, c12 = default, c22 = default, c32 = default, c03 = default, c13 = default, c23 = default, c33 = default;
        Vector512<float> c04 = default, c14 = default, c24 = default, c34 = default, c05 = default, c15 = default, c25 = default, c35 = default;
        float* w1 = w + kp, w2 = w1 + kp, w3 = w2 + kp;
        float* x1 = x + kp, x2 = x1 + kp, x3 = x2 + kp, x4 = x3 + kp, x5 = x4 + kp;
        for (int k = 0; k < kp; k += 16)
        {
            var a0 = Vector512.Load(w + k); var a1 = Vector512.Load(w1 + k); var a2 = Vector512.Load(w2 + k); var a3 = Vector512.Load(w3 + k);
            var b = Vector512.Load(x + k);
            c00 = Vector512.FusedMultiplyAdd(a0, b, c00); c10 = Vector512.FusedMultiplyAdd(a1, b, c10); c20 = Vector512.FusedMultiplyAdd(a2, b, c20); c30 = Vector512.FusedMultiplyAdd(a3, b, c30);
            b = Vector512.Load(x1 + k);
            c01 = Vector512.FusedMultiplyAdd(a0, b, c01); c11 = Vector512.FusedMultiplyAdd(a1, b, c11); c21 = Vector512.FusedMultiplyAdd(a2, b, c21); c31 = Vector512.FusedMultiplyAdd(a3, b, c31);
            b = Vector512.Load(x2 + k);
            c02 = Vector512.FusedMultiplyAdd(a0, b, c02); c12 = Vector512.FusedMultiplyAdd(a1, b, c12); c22 = Vector512.FusedMultiplyAdd(a2, b, c22); c32 = Vector512.FusedMultiplyAdd(a3, b, c32);
            b = Vector512.Load(x3 + k);
            c03 = Vector512.FusedMultiplyAdd(a0, b, c03); c13 = Vector512.FusedMultiplyAdd(a1, b, c13); c23 = Vector512.FusedMultiplyAdd(a2, b, c23); c33 = Vector512.FusedMultiplyAdd(a3, b, c33);
            b = Vector512.Load(x4 + k);
            c04 = Vector512.FusedMultiplyAdd(a0, b, c04); c14 = Vector512.FusedMultiplyAdd(a1, b, c14); c24 = Vector512.FusedMultiplyAdd(a2, b, c24); c34 = Vector512.FusedMultiplyAdd(a3, b, c34);
            b = Vector512.Load(x5 + k);
            c05 = Vector512.FusedMultiplyAdd(a0, b, c05); c15 = Vector512.FusedMultiplyAdd(a1, b, c15); c25 = Vector512.FusedMultiplyAdd(a2, b, c25); c35 = Vector512.FusedMultiplyAdd(a3, b, c35);
        }
        Store4(y, c00, c10, c20, c30); Store4(y + ldy, c01, c11, c21, c31); Store4(y + 2 * ldy, c02, c12, c22, c32);
        Store4(y + 3 * ldy, c03, c13, c23, c33); Store4(y + 4 * ldy, c04, c14, c24, c34); Store4(y + 5 * ldy, c05, c15, c25, c35);
    }

    static void Tile4x1(float* w, float* x, int kp, float* y)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int k = 0; k < kp; k += 16)
        {
            var b = Vector512.Load(x + k);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Load(w + k), b, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Load(w + kp + k), b, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Load(w + 2 * kp + k), b, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Load(w + 3 * kp + k), b, c3);
        }
        Store4(y, c0, c1, c2, c3);
    }

    /// <summary>y[0..4) = the four accumulators' sums (halves added down to 128 bits first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store4(float* y, Vector512<float> c0, Vector512<float> c1, Vector512<float> c2, Vector512<float> c3)
    {
        y[0] = Vector128.Sum(Half(c0));
        y[1] = Vector128.Sum(Half(c1));
        y[2] = Vector128.Sum(Half(c2));
        y[3] = Vector128.Sum(Half(c3));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Half(Vector512<float> c)
    {
        var h = c.GetLower() + c.GetUpper();
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>2 weight rows × 6 tokens for AVX2's 16 registers: 12 accumulators, 2 weight, 1 token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile2x6(float* w, float* x, int kp, float* y, long ldy)
    {
        Vector256<float> c00 = default, c10 = default, c01 = default, c11 = default, c02 = default, c12 = default;
        Vector256<float> c03 = default, c13 = default, c04 = default, c14 = default, c05 = default, c15 = default;
        float* w1 = w + kp;
        float* x1 = x + kp, x2 = x1 + kp, x3 = x2 + kp, x4 = x3 + kp, x5 = x4 + kp;
        for (int k = 0; k < kp; k += 8)
        {
            var a0 = Vector256.Load(w + k); var a1 = Vector256.Load(w1 + k);
            var b = Vector256.Load(x + k); c00 = Vector256.FusedMultiplyAdd(a0, b, c00); c10 = Vector256.FusedMultiplyAdd(a1, b, c10);
            b = Vector256.Load(x1 + k); c01 = Vector256.FusedMultiplyAdd(a0, b, c01); c11 = Vector256.FusedMultiplyAdd(a1, b, c11);
            b = Vector256.Load(x2 + k); c02 = Vector256.FusedMultiplyAdd(a0, b, c02); c12 = Vector256.FusedMultiplyAdd(a1, b, c12);
            b = Vector256.Load(x3 + k); c03 = Vector256.FusedMultiplyAdd(a0, b, c03); c13 = Vector256.FusedMultiplyAdd(a1, b, c13);
            b = Vector256.Load(x4 + k); c04 = Vector256.FusedMultiplyAdd(a0, b, c04); c14 = Vector256.FusedMultiplyAdd(a1, b, c14);
            b = Vector256.Load(x5 + k); c05 = Vector256.FusedMultiplyAdd(a0, b, c05); c15 = Vector256.FusedMultiplyAdd(a1, b, c15);
        }
        Store2(y, c00, c10); Store2(y + ldy, c01, c11); Store2(y + 2 * ldy, c02, c12);
        Store2(y + 3 * ldy, c03, c13); Store2(y + 4 * ldy, c04, c14); Store2(y + 5 * ldy, c05, c15);
    }

    static void Tile2x1(float* w, float* x, int kp, float* y)
    {
        Vector256<float> c0 = default, c1 = default;
        for (int k = 0; k < kp; k += 8)
        {
            var b = Vector256.Load(x + k);
            c0 = Vector256.FusedMultiplyAdd(Vector256.Load(w + k), b, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Load(w + kp + k), b, c1);
        }
        Store2(y, c0, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store2(float* y, Vector256<float> c0, Vector256<float> c1)
    {
        y[0] = Vector256.Sum(c0);
        y[1] = Vector256.Sum(c1);
    }
}
