// The two inner loops of attention, for one key/value head and the G query heads that share it
// (grouped-query attention): every cached key and value row is read once for all G heads, not G
// times. Vector512 / Vector256 paths for head sizes that are multiples of 16 / 8, and the plain
// loop, which is the reference the tests hold the vector paths to.
// Layout: q and out are (G, D); keys are stored transposed, D rows of positions `keyStride` floats
// apart (so a vector of scores for consecutive positions is a run of plain FMAs, with no
// horizontal sum per position); values are n rows of D floats, `stride` floats apart; scores are (G, n).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeLM.Kernels;

public static unsafe partial class AttentionKernels
{
    /// <summary>scores[g, p] = scale · Σ_d q[g, d] · keysT[d, p] for p in [0, n); keysT rows are keyStride apart.</summary>
    [SkipLocalsInit]
    public static void Scores(float* q, int G, int D, float* keysT, long keyStride, int n, float scale, float* scores, bool allowSimd = true)
    {
        int p = 0;
        if (allowSimd && Vector512.IsHardwareAccelerated)
        {
            for (; p + 16 <= n; p += 16)
            {
                for (int g = 0; g < G; g++)
                {
                    float* qg = q + g * D;
                    var acc = Vector512<float>.Zero;
                    for (int d = 0; d < D; d++)
                        acc = Vector512.FusedMultiplyAdd(Vector512.Create(qg[d]), Vector512.Load(keysT + d * keyStride + p), acc);
                    (acc * scale).Store(scores + g * n + p);
                }
            }
        }
        if (allowSimd && Vector256.IsHardwareAccelerated)
        {
            for (; p + 8 <= n; p += 8)
            {
                for (int g = 0; g < G; g++)
                {
                    float* qg = q + g * D;
                    var acc = Vector256<float>.Zero;
                    for (int d = 0; d < D; d++)
                        acc = Vector256.FusedMultiplyAdd(Vector256.Create(qg[d]), Vector256.Load(keysT + d * keyStride + p), acc);
                    (acc * scale).Store(scores + g * n + p);
                }
            }
        }
        for (; p < n; p++)
        {
            for (int g = 0; g < G; g++)
            {
                float* qg = q + g * D;
                float acc = 0;
                for (int d = 0; d < D; d++) acc += qg[d] * keysT[d * keyStride + p];
                scores[g * n + p] = scale * acc;
            }
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
