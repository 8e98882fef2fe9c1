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

    /// <summary>y0[r] = Σ x0[i]·w[r·n + i], y1[r] = Σ x1[i]·w[r·n + i] for r = 0..3: a 2×4 tile, 6 loads per 8 FMAs.</summary>
    public static void Dot2x4(float* x0, float* x1, float* w, int n, float* y0, float* y1)
    {
        int W = Vector<float>.Count, i = 0;
        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector<float> b0 = default, b1 = default, b2 = default, b3 = default;
        float* w1 = w + n, w2 = w1 + n, w3 = w2 + n;
        for (; i + W <= n; i += W)
        {
            var u = Unsafe.ReadUnaligned<Vector<float>>(x0 + i);
            var v = Unsafe.ReadUnaligned<Vector<float>>(x1 + i);
            var k = Unsafe.ReadUnaligned<Vector<float>>(w + i);
            a0 = Vector.FusedMultiplyAdd(u, k, a0); b0 = Vector.FusedMultiplyAdd(v, k, b0);
            k = Unsafe.ReadUnaligned<Vector<float>>(w1 + i);
            a1 = Vector.FusedMultiplyAdd(u, k, a1); b1 = Vector.FusedMultiplyAdd(v, k, b1);
            k = Unsafe.ReadUnaligned<Vector<float>>(w2 + i);
            a2 = Vector.FusedMultiplyAdd(u, k, a2); b2 = Vector.FusedMultiplyAdd(v, k, b2);
            k = Unsafe.ReadUnaligned<Vector<float>>(w3 + i);
            a3 = Vector.FusedMultiplyAdd(u, k, a3); b3 = Vector.FusedMultiplyAdd(v, k, b3);
        }
        float s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
        float t0 = Vector.Sum(b0), t1 = Vector.Sum(b1), t2 = Vector.Sum(b2), t3 = Vector.Sum(b3);
        for (; i < n; i++)
        {
            s0 += x0[i] * w[i]; s1 += x0[i] * w1[i]; s2 += x0[i] * w2[i]; s3 += x0[i] * w3[i];
            t0 += x1[i] * w[i]; t1 += x1[i] * w1[i]; t2 += x1[i] * w2[i]; t3 += x1[i] * w3[i];
        }
        y0[0] = s0; y0[1] = s1; y0[2] = s2; y0[3] = s3;
        y1[0] = t0; y1[1] = t1; y1[2] = t2; y1[3] = t3;
    }

    /// <summary>y0 += Σj a[j]·x_j and y1 += Σj b[j]·x_j over four rows x_j <paramref name="stride"/> apart:
    /// each loaded x vector feeds both outputs.</summary>
    public static void Axpy4x2(float* y0, float* y1, float* a, float* b, float* x, int stride, int n)
    {
        int W = Vector<float>.Count, i = 0;
        float* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector<float> a0 = new(a[0]), a1 = new(a[1]), a2 = new(a[2]), a3 = new(a[3]);
        Vector<float> b0 = new(b[0]), b1 = new(b[1]), b2 = new(b[2]), b3 = new(b[3]);
        for (; i + W <= n; i += W)
        {
            var p = Unsafe.ReadUnaligned<Vector<float>>(y0 + i);
            var q = Unsafe.ReadUnaligned<Vector<float>>(y1 + i);
            var k = Unsafe.ReadUnaligned<Vector<float>>(x + i);
            p = Vector.FusedMultiplyAdd(a0, k, p); q = Vector.FusedMultiplyAdd(b0, k, q);
            k = Unsafe.ReadUnaligned<Vector<float>>(x1 + i);
            p = Vector.FusedMultiplyAdd(a1, k, p); q = Vector.FusedMultiplyAdd(b1, k, q);
            k = Unsafe.ReadUnaligned<Vector<float>>(x2 + i);
            p = Vector.FusedMultiplyAdd(a2, k, p); q = Vector.FusedMultiplyAdd(b2, k, q);
            k = Unsafe.ReadUnaligned<Vector<float>>(x3 + i);
            p = Vector.FusedMultiplyAdd(a3, k, p); q = Vector.FusedMultiplyAdd(b3, k, q);
            Unsafe.WriteUnaligned(y0 + i, p);
            Unsafe.WriteUnaligned(y1 + i, q);
        }
        for (; i < n; i++)
        {
            y0[i] += a[0] * x[i] + a[1] * x1[i] + a[2] * x2[i] + a[3] * x3[i];
            y1[i] += b[0] * x[i] + b[1] * x1[i] + b[2] * x2[i] + b[3] * x3[i];
        }
    }
}
