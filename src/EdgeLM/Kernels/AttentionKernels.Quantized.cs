// The attention inner loops over an F16 or Q8_0 KV cache, for one key/value head and its G query
// heads, as AttentionKernels does for F32 (same layouts: F16 keys transposed, values in rows).
// What llama.cpp's CPU backend computes for these cache types: the queries are first rounded to the
// cache's dot type (F16 keys: binary16; Q8_0 keys: Q8_0 blocks, the integer dot of ggml_vec_dot_q8_0_q8_0);
// before F16 values the probabilities are rounded to binary16 as well (ggml's mul_mat converts them
// to the F16 dot type); scores and the weighted sum accumulate in F32; Q8_0 values are dequantized
// before the sum, as llama.cpp's flash-attention path does (the only one that stores them).
// Vector512 / Vector256 paths for F16 keys and values; the plain loops are the reference.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Kernels;

public static unsafe partial class AttentionKernels
{
    /// <summary>Query heads processed together against one converted run of keys.</summary>
    const int QueryTile = 4;

    /// <summary>The widest G·D the stack buffers take (G query heads per KV head, head size D).</summary>
    public const int MaxGroupElements = 8192;

    /// <summary>scores[g, p] = scale · Σ_d f16(q[g, d]) · keysT[d, p] for p in [0, n); F16 keys, rows keyStride apart.</summary>
    [SkipLocalsInit]
    public static void ScoresF16(float* q, int G, int D, ushort* keysT, long keyStride, int n, float scale, float* scores, bool allowSimd = true)
    {
        int gPad = (G + QueryTile - 1) / QueryTile * QueryTile;
        if (gPad * D > MaxGroupElements) throw new ArgumentException($"{G} query heads of size {D} exceed the attention kernel's {MaxGroupElements} values");
        float* qh = stackalloc float[gPad * D];
        for (int i = 0; i < G * D; i++) qh[i] = QuantMath.RoundToHalf(q[i]);
        new Span<float>(qh + G * D, (gPad - G) * D).Clear();
        int p = 0;
        if (allowSimd && Vector512.IsHardwareAccelerated)
        {
            for (; p + 16 <= n; p += 16)
                for (int g = 0; g < G; g += QueryTile)
                {
                    float* q0 = qh + g * D;
                    Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    for (int d = 0; d < D; d++)
                    {
                        var k = QuantMath.HalfToFloat(Vector512.WidenLower(Vector256.Load(keysT + d * keyStride + p).ToVector512Unsafe()));
                        a0 = Vector512.FusedMultiplyAdd(Vector512.Create(q0[d]), k, a0);
                        a1 = Vector512.FusedMultiplyAdd(Vector512.Create(q0[D + d]), k, a1);
                        a2 = Vector512.FusedMultiplyAdd(Vector512.Create(q0[2 * D + d]), k, a2);
                        a3 = Vector512.FusedMultiplyAdd(Vector512.Create(q0[3 * D + d]), k, a3);
                    }
                    (a0 * scale).Store(scores + g * n + p);
                    if (g + 1 < G) (a1 * scale).Store(scores + (g + 1) * n + p);
                    if (g + 2 < G) (a2 * scale).Store(scores + (g + 2) * n + p);
                    if (g + 3 < G) (a3 * scale).Store(scores + (g + 3) * n + p);
                }
        }
        if (allowSimd && Vector256.IsHardwareAccelerated)
        {
            for (; p + 8 <= n; p += 8)
                for (int g = 0; g < G; g += QueryTile)
                {
                    float* q0 = qh + g * D;
                    Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    for (int d = 0; d < D; d++)
                    {
                        var k = QuantMath.HalfToFloat(Vector256.WidenLower(Vector128.Load(keysT + d * keyStride + p).ToVector256Unsafe()));
                        a0 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[d]), k, a0);
                        a1 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[D + d]), k, a1);
                        a2 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[2 * D + d]), k, a2);
                        a3 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[3 * D + d]), k, a3);
                    }
                    (a0 * scale).Store(scores + g * n + p);
                    if (g + 1 < G) (a1 * scale).Store(scores + (g + 1) * n + p);
                    if (g + 2 < G) (a2 * scale).Store(scores + (g + 2) * n + p);
                    if (g + 3 < G) (a3 * scale).Store(scores + (g + 3) * n + p);
                }
        }
        for (; p < n; p++)
            for (int g = 0; g < G; g++)
            {
                float* qg = qh + g * D;
                float acc = 0;
                for (int d = 0; d < D; d++) acc += qg[d] * QuantMath.HalfToFloat(keysT[d * keyStride + p]);
                scores[g * n + p] = scale * acc;
            }
    }

    /// <summary>out[g] = Σ_p f16(probs[g, p]) · values[p] for F16 value rows `stride` elements apart, overwriting
    /// out; probs are rounded to F16 in place first, as ggml converts them to the F16 values' dot type.</summary>
    [SkipLocalsInit]
    public static void WeightedSumF16(float* probs, int G, int D, ushort* values, long stride, int n, float* output, bool allowSimd = true)
    {
        if (D > MaxGroupElements) throw new ArgumentException($"head size {D} exceeds the attention kernel's {MaxGroupElements} values");
        RoundToHalf(probs, G * n, allowSimd);
        float* v = stackalloc float[D];
        new Span<float>(output, G * D).Clear();
        for (int p = 0; p < n; p++)
        {
            HalfRow(values + p * stride, v, D, allowSimd);
            for (int g = 0; g < G; g++)
                Axpy(output + g * D, v, probs[g * n + p], D, allowSimd);
        }
    }

    /// <summary>x[i] = f16(x[i]) for i in [0, n).</summary>
    public static void RoundToHalf(float* x, int n, bool allowSimd = true)
    {
        int i = 0;
        if (allowSimd && Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) QuantMath.RoundToHalf(Vector512.Load(x + i)).Store(x + i);
        if (allowSimd && Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) QuantMath.RoundToHalf(Vector256.Load(x + i)).Store(x + i);
        for (; i < n; i++) x[i] = QuantMath.RoundToHalf(x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void HalfRow(ushort* src, float* dst, int D, bool simd)
    {
        int i = 0;
        if (simd && Vector512.IsHardwareAccelerated)
            for (; i + 16 <= D; i += 16)
                QuantMath.HalfToFloat(Vector512.WidenLower(Vector256.Load(src + i).ToVector512Unsafe())).Store(dst + i);
        if (simd && Vector256.IsHardwareAccelerated)
            for (; i + 8 <= D; i += 8)
                QuantMath.HalfToFloat(Vector256.WidenLower(Vector128.Load(src + i).ToVector256Unsafe())).Store(dst + i);
        for (; i < D; i++) dst[i] = QuantMath.HalfToFloat(src[i]);
    }

    /// <summary>scores[g, p] = scale · q8_0(q[g]) · keys[p] for Q8_0 key rows (one head's D/32 blocks) `rowBytes` apart.</summary>
    [SkipLocalsInit]
    public static void ScoresQ8_0(float* q, int G, int D, byte* keys, long rowBytes, int n, float scale, float* scores)
    {
        int headBytes = (int)GgmlTypes.RowBytes(GgmlType.Q8_0, D);
        if (G * headBytes > MaxGroupElements * 2) throw new ArgumentException($"{G} query heads of size {D} exceed the attention kernel's buffer");
        byte* qq = stackalloc byte[G * headBytes];
        for (int g = 0; g < G; g++)
            QuantKernels.Quantize(GgmlType.Q8_0, new ReadOnlySpan<float>(q + g * D, D), new Span<byte>(qq + g * headBytes, headBytes));
        for (int p = 0; p < n; p++)
        {
            var key = new ReadOnlySpan<byte>(keys + p * rowBytes, headBytes);
            for (int g = 0; g < G; g++)
                scores[g * n + p] = scale * QuantKernels.VecDot(GgmlType.Q8_0, key, new ReadOnlySpan<byte>(qq + g * headBytes, headBytes), D);
        }
    }

    /// <summary>out[g] = Σ_p probs[g, p] · dequantize(values[p]) for Q8_0 value rows `rowBytes` apart, overwriting out.</summary>
    [SkipLocalsInit]
    public static void WeightedSumQ8_0(float* probs, int G, int D, byte* values, long rowBytes, int n, float* output, bool allowSimd = true)
    {
        if (D > MaxGroupElements) throw new ArgumentException($"head size {D} exceeds the attention kernel's {MaxGroupElements} values");
        int headBytes = (int)GgmlTypes.RowBytes(GgmlType.Q8_0, D);
        float* v = stackalloc float[D];
        new Span<float>(output, G * D).Clear();
        for (int p = 0; p < n; p++)
        {
            QuantKernels.Dequantize(GgmlType.Q8_0, new ReadOnlySpan<byte>(values + p * rowBytes, headBytes), new Span<float>(v, D));
            for (int g = 0; g < G; g++)
                Axpy(output + g * D, v, probs[g * n + p], D, allowSimd);
        }
    }
}
