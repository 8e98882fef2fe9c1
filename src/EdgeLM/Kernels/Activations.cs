// Element-wise activations and softmax, on TensorPrimitives where it has the operation; e^x is our own (ExpCore):
// TensorPrimitives' float exp took 1.5 ns a value on this machine (a softmax over 2,048 values now takes 1.5 us).
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using EdgeLM.Quantization;

namespace EdgeLM.Kernels;

public static class Activations
{
    /// <summary>SwiGLU: y = silu(gate) * up, silu(x) = x / (1 + e^-x) as ggml_silu_f32, e^-x by ExpCore below
    /// (TensorPrimitives.Sigmoid took ~2 ns a value here: 10 us per row of Qwen2.5's 4,864, 6-7% of a decode step
    /// at two threads; these 2.2 us). The vector paths and the scalar tail do the same IEEE operations in the same
    /// order, so each value's result is the same however the rows are chunked (one call over (T, FF) or one per
    /// row, on any thread, at any vector width). y may alias gate or up.</summary>
    public static void SwiGlu(Span<float> y, ReadOnlySpan<float> gate, ReadOnlySpan<float> up) =>
        SwiGlu(y, gate, up, SimdLevel.Vector512);

    /// <summary>SwiGlu with the widest vectors limited to <paramref name="level"/> (for tests: every path against the
    /// scalar one).</summary>
    internal static unsafe void SwiGlu(Span<float> y, ReadOnlySpan<float> gate, ReadOnlySpan<float> up, SimdLevel level)
    {
        int n = y.Length;
        if (gate.Length < n || up.Length < n) throw new ArgumentException($"gate ({gate.Length}) and up ({up.Length}) must hold y's {n} values");
        fixed (float* py = y, pg = gate, pu = up)
        {
            int i = 0;
            if (level >= SimdLevel.Vector512 && Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16) (Silu(Vector512.Load(pg + i)) * Vector512.Load(pu + i)).Store(py + i);
            if (level >= SimdLevel.Vector256 && Vector256.IsHardwareAccelerated)
                for (; i + 8 <= n; i += 8) (Silu(Vector256.Load(pg + i)) * Vector256.Load(pu + i)).Store(py + i);
            if (level >= SimdLevel.Vector128 && Vector128.IsHardwareAccelerated)
                for (; i + 4 <= n; i += 4) (Silu(Vector128.Load(pg + i)) * Vector128.Load(pu + i)).Store(py + i);
            for (; i < n; i++) py[i] = Silu(pg[i]) * pu[i];
        }
    }

    /// <summary>x[i] = e^x[i] in place by ExpCore (within 3 ulps for results of at least 2^-126), at vector widths up
    /// to <paramref name="level"/>, each value's result the same at every width: below ln(2^-126) the result is 0 (a
    /// subnormal at most, lost), above 88 +infinity (at most a factor 1.9 early), NaN stays NaN.</summary>
    internal static unsafe void Exp(Span<float> x, SimdLevel level)
    {
        int n = x.Length, i = 0;
        fixed (float* p = x)
        {
            if (level >= SimdLevel.Vector512 && Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16) Exp(Vector512.Load(p + i)).Store(p + i);
            if (level >= SimdLevel.Vector256 && Vector256.IsHardwareAccelerated)
                for (; i + 8 <= n; i += 8) Exp(Vector256.Load(p + i)).Store(p + i);
            if (level >= SimdLevel.Vector128 && Vector128.IsHardwareAccelerated)
                for (; i + 4 <= n; i += 4) Exp(Vector128.Load(p + i)).Store(p + i);
            for (; i < n; i++) p[i] = Exp(p[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Exp(float x) => float.IsNaN(x) ? x : x < ExpLow ? 0f : x > ExpHigh ? float.PositiveInfinity : ExpCore(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Exp(Vector512<float> v)
    {
        var e = ExpCore(Vector512.MaxNative(Vector512.MinNative(v, Vector512.Create(ExpHigh)), Vector512.Create(ExpLow)));
        e = Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512.Create(ExpLow)), Vector512<float>.Zero, e);
        e = Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512.Create(ExpHigh)), Vector512.Create(float.PositiveInfinity), e);
        return Vector512.ConditionalSelect(Vector512.Equals(v, v), e, v); // NaN stays NaN
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Exp(Vector256<float> v)
    {
        var e = ExpCore(Vector256.MaxNative(Vector256.MinNative(v, Vector256.Create(ExpHigh)), Vector256.Create(ExpLow)));
        e = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256.Create(ExpLow)), Vector256<float>.Zero, e);
        e = Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256.Create(ExpHigh)), Vector256.Create(float.PositiveInfinity), e);
        return Vector256.ConditionalSelect(Vector256.Equals(v, v), e, v); // NaN stays NaN
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Exp(Vector128<float> v)
    {
        var e = ExpCore(Vector128.MaxNative(Vector128.MinNative(v, Vector128.Create(ExpHigh)), Vector128.Create(ExpLow)));
        e = Vector128.ConditionalSelect(Vector128.LessThan(v, Vector128.Create(ExpLow)), Vector128<float>.Zero, e);
        e = Vector128.ConditionalSelect(Vector128.GreaterThan(v, Vector128.Create(ExpHigh)), Vector128.Create(float.PositiveInfinity), e);
        return Vector128.ConditionalSelect(Vector128.Equals(v, v), e, v); // NaN stays NaN
    }

    // ExpCore: x = n ln2 + b with n = round(x log2 e) (by adding and subtracting 1.5 * 2^23) and |b| <= ln2 / 2
    // (ln2 in two parts, so b is exact to ~2^-32), e^b by its Taylor series to b^6 / 6! (remainder < 1.7e-7 relative:
    // with the rounding, within 3 ulps of e^x), times 2^n built in the exponent bits, for x in [ExpLow, ExpHigh]. The
    // silu raises -g to ExpLow (e^x then the smallest normal float instead of less: 1 + e^x is 1 either way) and takes
    // +infinity above ExpHigh (e^88.72 would overflow 2^n's exponent; silu(g) for g < -88 is then -0, truly ~-1e-36).
    const float ExpLow = -87.33654f, ExpHigh = 88f, Log2E = 1.44269504f, Shifter = 12582912f; // 1.5 * 2^23
    const float Ln2Hi = 0.693145752f, Ln2Lo = 1.42860682e-6f; // Ln2Hi has 16 significant bits: n * Ln2Hi is exact
    const float C6 = 1f / 720, C5 = 1f / 120, C4 = 1f / 24, C3 = 1f / 6;

    /// <summary>g / (1 + e^-g), as the vector forms compute it, in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Silu(float g)
    {
        float x = Math.Max(-g, ExpLow);
        float e = x > ExpHigh ? float.PositiveInfinity : ExpCore(x);
        return g / (1f + e);
    }

    /// <summary>e^x for x in [ExpLow, ExpHigh] (or NaN): the vector forms do the same operations lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float ExpCore(float x)
    {
        float k = MathF.FusedMultiplyAdd(x, Log2E, Shifter) - Shifter;
        float b = MathF.FusedMultiplyAdd(-k, Ln2Lo, MathF.FusedMultiplyAdd(-k, Ln2Hi, x));
        float p = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(C6, b, C5), b, C4), b, C3), b, 0.5f);
        p = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(p, b, 1f), b, 1f);
        return p * BitConverter.Int32BitsToSingle(((int)k + 127) << 23);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Silu(Vector512<float> g)
    {
        var x = Vector512.MaxNative(-g, Vector512.Create(ExpLow));
        var e = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(ExpHigh)), Vector512.Create(float.PositiveInfinity), ExpCore(x));
        return g / (Vector512<float>.One + e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Silu(Vector256<float> g)
    {
        var x = Vector256.MaxNative(-g, Vector256.Create(ExpLow));
        var e = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(ExpHigh)), Vector256.Create(float.PositiveInfinity), ExpCore(x));
        return g / (Vector256<float>.One + e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Silu(Vector128<float> g)
    {
        var x = Vector128.MaxNative(-g, Vector128.Create(ExpLow));
        var e = Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128.Create(ExpHigh)), Vector128.Create(float.PositiveInfinity), ExpCore(x));
        return g / (Vector128<float>.One + e);
    }

    /// <summary>e^x for x in [ExpLow, ExpHigh] (other lanes: anything), as the scalar ExpCore.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> ExpCore(Vector512<float> x)
    {
        var k = Vector512.FusedMultiplyAdd(x, Vector512.Create(Log2E), Vector512.Create(Shifter)) - Vector512.Create(Shifter);
        var b = Vector512.FusedMultiplyAdd(-k, Vector512.Create(Ln2Lo), Vector512.FusedMultiplyAdd(-k, Vector512.Create(Ln2Hi), x));
        var p = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(
            Vector512.Create(C6), b, Vector512.Create(C5)), b, Vector512.Create(C4)), b, Vector512.Create(C3)), b, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(p, b, Vector512<float>.One), b, Vector512<float>.One);
        return p * ((Vector512.ConvertToInt32Native(k) + Vector512.Create(127)) << 23).AsSingle();
    }

    /// <summary>e^x for x in [ExpLow, ExpHigh] (other lanes: anything), as the scalar ExpCore.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> ExpCore(Vector256<float> x)
    {
        var k = Vector256.FusedMultiplyAdd(x, Vector256.Create(Log2E), Vector256.Create(Shifter)) - Vector256.Create(Shifter);
        var b = Vector256.FusedMultiplyAdd(-k, Vector256.Create(Ln2Lo), Vector256.FusedMultiplyAdd(-k, Vector256.Create(Ln2Hi), x));
        var p = Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(
            Vector256.Create(C6), b, Vector256.Create(C5)), b, Vector256.Create(C4)), b, Vector256.Create(C3)), b, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(p, b, Vector256<float>.One), b, Vector256<float>.One);
        return p * ((Vector256.ConvertToInt32Native(k) + Vector256.Create(127)) << 23).AsSingle();
    }

    /// <summary>e^x for x in [ExpLow, ExpHigh] (other lanes: anything), as the scalar ExpCore.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> ExpCore(Vector128<float> x)
    {
        var k = Vector128.FusedMultiplyAdd(x, Vector128.Create(Log2E), Vector128.Create(Shifter)) - Vector128.Create(Shifter);
        var b = Vector128.FusedMultiplyAdd(-k, Vector128.Create(Ln2Lo), Vector128.FusedMultiplyAdd(-k, Vector128.Create(Ln2Hi), x));
        var p = Vector128.FusedMultiplyAdd(Vector128.FusedMultiplyAdd(Vector128.FusedMultiplyAdd(Vector128.FusedMultiplyAdd(
            Vector128.Create(C6), b, Vector128.Create(C5)), b, Vector128.Create(C4)), b, Vector128.Create(C3)), b, Vector128.Create(0.5f));
        p = Vector128.FusedMultiplyAdd(Vector128.FusedMultiplyAdd(p, b, Vector128<float>.One), b, Vector128<float>.One);
        return p * ((Vector128.ConvertToInt32Native(k) + Vector128.Create(127)) << 23).AsSingle();
    }

    /// <summary>Scalar reference for <see cref="SwiGlu"/>.</summary>
    public static void SwiGluReference(Span<float> y, ReadOnlySpan<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < y.Length; i++)
            y[i] = gate[i] / (1.0f + MathF.Exp(-gate[i])) * up[i];
    }

    /// <summary>In-place softmax with the maximum subtracted first; e^x as <see cref="Exp"/> (TensorPrimitives.Exp took
    /// 1.5 ns a value here).</summary>
    public static void Softmax(Span<float> x)
    {
        if (x.IsEmpty) return;
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        Exp(x, SimdLevel.Vector512);
        float sum = TensorPrimitives.Sum(x);
        TensorPrimitives.Multiply(x, 1.0f / sum, x);
    }

    /// <summary>log(sum(exp(x))), stable; for log-probabilities in perplexity.</summary>
    public static double LogSumExp(ReadOnlySpan<float> x)
    {
        float max = TensorPrimitives.Max(x);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += Math.Exp(x[i] - max);
        return max + Math.Log(sum);
    }
}
