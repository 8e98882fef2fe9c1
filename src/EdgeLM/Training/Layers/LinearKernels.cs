// The inner products of the training matmuls on System.Numerics.Vector<float> (the widest vector the
// JIT supports here), with a scalar tail. Not general kernels: pointers are pinned by the caller and
// lengths are trusted. The four-row forms keep four accumulators (or four coefficients) in registers
// so each load of the shared row feeds four fused multiply-adds.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace EdgeLM.Training.Layers;

static unsafe class LinearKernels
{
    /// <summary>Σ x[i]·w[i].</summary>
    public static float Dot(float* x, float* w, int n) =>
        System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<float>(x, n), new ReadOnlySpan<float>(w, n));

    /// <summary>y[r] = Σ x[i]·w[r·n + i] for r = 0..3.</summary>
    public static void Dot4(float* x, float* w, int n, float* y)
    {
        int W = Vector<float>.Count, i = 0;
        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
        float* w1 = w + n, w2 = w1 + n, w3 = w2 + n;
        for (; i + W <= n; i += W)
        {
            var xv = Unsafe.ReadUnaligned<Vector<float>>(x + i);
            a0 = Vector.FusedMultiplyAdd(xv, Unsafe.ReadUnaligned<Vector<float>>(w + i), a0);
            a1 = Vector.FusedMultiplyAdd(xv, Unsafe.ReadUnaligned<Vector<float>>(w1 + i), a1);
            a2 = Vector.FusedMultiplyAdd(xv, Unsafe.ReadUnaligned<Vector<float>>(w2 + i), a2);
            a3 = Vector.FusedMultiplyAdd(xv, Unsafe.ReadUnaligned<Vector<float>>(w3 + i), a3);
        }
        float s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
        for (; i < n; i++)
        {
            s0 += x[i] * w[i]; s1 += x[i] * w1[i]; s2 += x[i] * w2[i]; s3 += x[i] * w3[i];
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    /// <summary>y[i] += a·x[i].</summary>
    public static void Axpy(float* y, float a, float* x, int n)
    {
        var ys = new Span<float>(y, n);
        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(x, n), a, ys, ys);
    }

    /// <summary>y[i] += a0·x[i] + a1·x[s+i] + a2·x[2s+i] + a3·x[3s+i], rows of x <paramref name="stride"/> apart.</summary>
    public static void Axpy4(float* y, float a0, float a1, float a2, float a3, float* x, int stride, int n)
    {
        int W = Vector<float>.Count, i = 0;
        float* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        var v0 = new Vector<float>(a0); var v1 = new Vector<float>(a1);
        var v2 = new Vector<float>(a2); var v3 = new Vector<float>(a3);
        for (; i + W <= n; i += W)
        {
            var acc = Unsafe.ReadUnaligned<Vector<float>>(y + i);
            acc = Vector.FusedMultiplyAdd(v0, Unsafe.ReadUnaligned<Vector<float>>(x + i), acc);
            acc = Vector.FusedMultiplyAdd(v1, Unsafe.ReadUnaligned<Vector<float>>(x1 + i), acc);
            acc = Vector.FusedMultiplyAdd(v2, Unsafe.ReadUnaligned<Vector<float>>(x2 + i), acc);
            acc = Vector.FusedMultiplyAdd(v3, Unsafe.ReadUnaligned<Vector<float>>(x3 + i), acc);
            Unsafe.WriteUnaligned(y + i, acc);
        }
        for (; i < n; i++) y[i] += a0 * x[i] + a1 * x1[i] + a2 * x2[i] + a3 * x3[i];
    }
}
