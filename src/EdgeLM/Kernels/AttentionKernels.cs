// The two inner loops of attention, for one key/value head and the G query heads that share it
// (grouped-query attention): every cached key and value row is read once for all G heads, not G
// times. Vector512 / Vector256 paths for head sizes that are multiples of 16 / 8, and the plain
// loop, which is the reference the tests hold the vector paths to.
// Layout: q and out are (G, D); keys and values are n rows of D floats, `stride` floats apart;
// scores are (G, n).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeLM.Kernels;

public static unsafe class AttentionKernels
{
    /// <summary>scores[g, p] = scale · dot(q[g], keys[p]) for p in [0, n).</summary>
    [SkipLocalsInit]
    public static void Scores(float* q, int G, int D, float* keys, long stride, int n, float scale, float* scores, bool allowSimd = true)
    {
        for (int p = 0; p < n; p++)
        {
            float* k = keys + p * stride;
            for (int g = 0; g < G; g++)
                scores[g * n + p] = scale * Dot(q + g * D, k, D, allowSimd);
        }
    }

    /// <summary>out[g] = Σ_p probs[g, p] · values[p], overwriting out.</summary>
    [SkipLocalsInit]
    public static void WeightedSum(float* probs, int G, int D, float* values, long stride, int n, float* output, bool allowSimd = true)
    {
        new Span<float>(output, G * D).Clear();
        for (int p = 0; p < n; p++)
        {
            float* v = values + p * stride;
            for (int g = 0; g < G; g++)
                Axpy(output + g * D, v, probs[g * n + p], D, allowSimd);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot(float* a, float* b, int D, bool simd)
    {
        if (simd && Vector512.IsHardwareAccelerated && D % 16 == 0)
        {
            var acc = Vector512<float>.Zero;
            for (int i = 0; i < D; i += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), acc);
            return Vector512.Sum(acc);
        }
        if (simd && Vector256.IsHardwareAccelerated && D % 8 == 0)
        {
            var acc = Vector256<float>.Zero;
            for (int i = 0; i < D; i += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            return Vector256.Sum(acc);
        }
        float s = 0;
        for (int i = 0; i < D; i++) s += a[i] * b[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Axpy(float* y, float* x, float a, int D, bool simd)
    {
        if (simd && Vector512.IsHardwareAccelerated && D % 16 == 0)
        {
            var va = Vector512.Create(a);
            for (int i = 0; i < D; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.Load(x + i), va, Vector512.Load(y + i)).Store(y + i);
            return;
        }
        if (simd && Vector256.IsHardwareAccelerated && D % 8 == 0)
        {
            var va = Vector256.Create(a);
            for (int i = 0; i < D; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.Load(x + i), va, Vector256.Load(y + i)).Store(y + i);
            return;
        }
        for (int i = 0; i < D; i++) y[i] += a * x[i];
    }
}
