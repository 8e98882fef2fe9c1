// Dispatch over the tensor types: quantization, dequantization and dot products, one switch per row
// or per row range (never per element). The per-type code lives in one file per format beside this;
// the SIMD dots in *.Simd.cs. Activations are quantized to VecDotType(weightType) before a dot
// product, as llama.cpp's CPU backend does, so results agree with it closely.
// Hot-path rules: no allocation, no LINQ, no interface calls; row pointers are validated here once.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
public static unsafe class QuantKernels
{
    /// <summary>The type llama.cpp's CPU backend converts activations to before a dot product with
    /// weights of <paramref name="weightType"/> (type_traits_cpu[].vec_dot_type).</summary>
    public static GgmlType VecDotType(GgmlType weightType) => weightType switch
    {
        GgmlType.F32 => GgmlType.F32,
        GgmlType.F16 => GgmlType.F16,
        GgmlType.BF16 => GgmlType.BF16,
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => GgmlType.Q8_0,
        GgmlType.Q4_1 or GgmlType.Q5_1 => GgmlType.Q8_1,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => GgmlType.Q8_K,
        _ => throw new NotSupportedException($"{weightType} dot products are not implemented"),
    };

    /// <summary>Quantizes one row (n = src.Length, a multiple of the block size) into dst exactly as
    /// llama.cpp's x86 CPU backend converts activations (type_traits_cpu[].from_float): Q8_0 and Q8_1
    /// use its AVX path (scale 127/amax, ties to even); every other type its reference quantizer.
    /// For model files use <see cref="QuantizeReference"/>.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        CheckRow(type, src.Length, dst.Length);
        fixed (float* x = src)
        fixed (byte* y = dst)
        {
            switch (type)
            {
                case GgmlType.Q8_0: Q8_0Simd.QuantizeActivation(x, (BlockQ8_0*)y, src.Length, Simd.Best); break;
                case GgmlType.Q8_1: Q8_1.QuantizeActivation(x, (BlockQ8_1*)y, src.Length); break;
                case GgmlType.Q8_K: Q8_KSimd.Quantize(x, (BlockQ8_K*)y, src.Length, Simd.Best); break;
                default: QuantizeRef(type, x, y, src.Length); break;
            }
        }
    }

    /// <summary>Quantizes one row as llama.cpp's quantizer writes model files without an importance
    /// matrix (ggml_quantize_chunk, i.e. quantize_row_*_ref): bit-identical blocks.</summary>
    public static void QuantizeReference(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        CheckRow(type, src.Length, dst.Length);
        fixed (float* x = src)
        fixed (byte* y = dst) QuantizeRef(type, x, y, src.Length);
    }

    static void QuantizeRef(GgmlType type, float* x, byte* y, int n)
    {
        switch (type)
        {
            case GgmlType.F32: Buffer.MemoryCopy(x, y, (long)n * 4, (long)n * 4); break;
            case GgmlType.F16: F16.Quantize(x, (ushort*)y, n); break;
            case GgmlType.BF16: BF16.Quantize(x, (ushort*)y, n); break;
            case GgmlType.Q4_0: Q4_0.QuantizeRef(x, (BlockQ4_0*)y, n); break;
            case GgmlType.Q4_1: Q4_1.QuantizeRef(x, (BlockQ4_1*)y, n); break;
            case GgmlType.Q5_0: Q5_0.QuantizeRef(x, (BlockQ5_0*)y, n); break;
            case GgmlType.Q5_1: Q5_1.QuantizeRef(x, (BlockQ5_1*)y, n); break;
            case GgmlType.Q8_0: Q8_0.QuantizeRef(x, (BlockQ8_0*)y, n); break;
            case GgmlType.Q8_1: Q8_1.QuantizeRef(x, (BlockQ8_1*)y, n); break;
            case GgmlType.Q2_K: Q2_K.QuantizeRef(x, (BlockQ2_K*)y, n); break;
            case GgmlType.Q3_K: Q3_K.QuantizeRef(x, (BlockQ3_K*)y, n); break;
            case GgmlType.Q4_K: Q4_K.QuantizeRef(x, (BlockQ4_K*)y, n); break;
            case GgmlType.Q5_K: Q5_K.QuantizeRef(x, (BlockQ5_K*)y, n); break;
            case GgmlType.Q6_K: Q6_K.QuantizeRef(x, (BlockQ6_K*)y, n); break;
            case GgmlType.Q8_K: Q8_K.Quantize(x, (BlockQ8_K*)y, n); break;
            default: throw new NotSupportedException($"quantizing to {type} is not implemented");
        }
    }

    /// <summary>Dequantizes one row of dst.Length elements (dequantize_row_*; exact).</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        CheckRow(type, dst.Length, src.Length);
        int n = dst.Length;
        fixed (byte* x = src)
        fixed (float* y = dst)
        {
            switch (type)
            {
                case GgmlType.F32: Buffer.MemoryCopy(x, y, (long)n * 4, (long)n * 4); break;
                case GgmlType.F16: F16.Dequantize((ushort*)x, y, n); break;
                case GgmlType.BF16: BF16.Dequantize((ushort*)x, y, n); break;
                case GgmlType.Q4_0: Q4_0.Dequantize((BlockQ4_0*)x, y, n); break;
                case GgmlType.Q4_1: Q4_1.Dequantize((BlockQ4_1*)x, y, n); break;
                case GgmlType.Q5_0: Q5_0.Dequantize((BlockQ5_0*)x, y, n); break;
                case GgmlType.Q5_1: Q5_1.Dequantize((BlockQ5_1*)x, y, n); break;
                case GgmlType.Q8_0: Q8_0.Dequantize((BlockQ8_0*)x, y, n); break;
                case GgmlType.Q8_1: Q8_1.Dequantize((BlockQ8_1*)x, y, n); break;
                case GgmlType.Q2_K: Q2_K.Dequantize((BlockQ2_K*)x, y, n); break;
                case GgmlType.Q3_K: Q3_K.Dequantize((BlockQ3_K*)x, y, n); break;
                case GgmlType.Q4_K: Q4_K.Dequantize((BlockQ4_K*)x, y, n); break;
                case GgmlType.Q5_K: Q5_K.Dequantize((BlockQ5_K*)x, y, n); break;
                case GgmlType.Q6_K: Q6_K.Dequantize((BlockQ6_K*)x, y, n); break;
                case GgmlType.Q8_K: Q8_K.Dequantize((BlockQ8_K*)x, y, n); break;
                default: throw new NotSupportedException($"dequantizing {type} is not implemented");
            }
        }
    }

    /// <summary>Dot product of one weight row with an activation row already in VecDotType(weightType).</summary>
    public static float VecDot(GgmlType weightType, ReadOnlySpan<byte> weightRow, ReadOnlySpan<byte> activation, int n)
    {
        CheckRow(weightType, n, weightRow.Length);
        CheckRow(VecDotType(weightType), n, activation.Length);
        fixed (byte* w = weightRow)
        fixed (byte* a = activation) return QuantDots.Resolve(weightType, Simd.Best)(w, a, n);
    }

    /// <summary>y[r - rowStart] = dot(W[r], x) for rows [rowStart, rowEnd) of a row-major weight matrix
    /// whose rows are rowBytes apart; x is one activation row in VecDotType(weightType). One dispatch
    /// per call.</summary>
    public static void VecDotRows(GgmlType weightType, byte* weights, long rowBytes, int rowStart, int rowEnd,
        ReadOnlySpan<byte> activation, Span<float> y, int n)
    {
        CheckRows(weightType, rowBytes, rowStart, rowEnd, n, y.Length);
        CheckRow(VecDotType(weightType), n, activation.Length);
        // One row per call: the 4-row tile (Block32Multi with one activation) measured no faster here;
        // the K-quants have a row kernel (KQuantRows) that shares their per-super-block overhead.
        var dot = QuantDots.Resolve(weightType, Simd.Best);
        var rowsKernel = QuantDots.ResolveRows(weightType, Simd.Best);
        fixed (byte* a = activation)
        fixed (float* yp = y)
        {
            if (weightType is GgmlType.F16 or GgmlType.BF16 && Simd.Best != SimdLevel.Scalar)
            {
                // F16, BF16: the activation is widened once for all rows (same bits as the per-row dot).
                if (weightType == GgmlType.F16) F16Rows.Rows(weights + rowStart * rowBytes, rowBytes, rowEnd - rowStart, (ushort*)a, yp, n, Simd.Best);
                else BF16Rows.Rows(weights + rowStart * rowBytes, rowBytes, rowEnd - rowStart, (ushort*)a, yp, n, Simd.Best);
                return;
            }
            byte* w = weights + rowStart * rowBytes;
            // The activation prepared once for all rows where the type has that path (bit-identical).
            if (Block32Decode.Rows(weightType, Simd.Best, w, rowBytes, rowEnd - rowStart, a, yp, n)) return;
            if (rowsKernel != null)
            {
                rowsKernel(w, rowBytes, rowEnd - rowStart, a, yp, n);
                return;
            }
            for (int r = 0; r < rowEnd - rowStart; r++, w += rowBytes) yp[r] = dot(w, a, n);
        }
    }

    /// <summary>The same rows against T activation rows (activations: T rows activationRowBytes apart):
    /// y[t * (rowEnd - rowStart) + (r - rowStart)] = dot(W[r], x_t). Rows are taken in the outer loop
    /// so each weight row is read from memory once and stays in L1 while the T activations pass over it.</summary>
    public static void VecDotRowsMulti(GgmlType weightType, byte* weights, long rowBytes, int rowStart, int rowEnd,
        ReadOnlySpan<byte> activations, int activationRowBytes, int numActivations, Span<float> y, int n)
    {
        int rows = rowEnd - rowStart;
        CheckRows(weightType, rowBytes, rowStart, rowEnd, n, y.Length / Math.Max(1, numActivations));
        if (y.Length < (long)rows * numActivations || activations.Length < (long)activationRowBytes * numActivations
            || activationRowBytes < GgmlTypes.RowBytes(VecDotType(weightType), n))
            throw new ArgumentException("activations or y are too small for numActivations rows");
        var multi = QuantDots.ResolveMulti(weightType, Simd.Best);
        var dot = QuantDots.Resolve(weightType, Simd.Best);
        fixed (byte* a = activations)
        fixed (float* yp = y)
        {
            byte* w = weights + rowStart * rowBytes;
            if (multi != null)
            {
                // Tiles of rows x activations: each block unpacked once per tile (bit-identical to dot).
                multi(w, rowBytes, rows, a, activationRowBytes, numActivations, yp, rows, n);
                return;
            }
            for (int r = 0; r < rows; r++, w += rowBytes)
                for (int t = 0; t < numActivations; t++) yp[t * rows + r] = dot(w, a + (long)t * activationRowBytes, n);
        }
    }

    /// <summary>y[t * yStride + r] = dot(W[r], x_t) for rows [rowStart, rowEnd) and t in [0, numActivations):
    /// a micro-batch's product written straight into y (T, yStride), e.g. (T, Rows) of a whole matrix.
    /// Blocked (Block32GemmLanes at 512 bits, Block32Gemm256, KQuantGemm, F16Gemm) where the type
    /// has a blocked kernel at this CPU's level, else as VecDotRowsMulti; every output bit-identical to
    /// QuantDots.ResolveGemmDot's function for that level and micro-batch (VecDot of the same pair, or for
    /// Q4_0 / Q5_0 / Q8_0 at 512 bits the rows-in-lanes order, which agrees with VecDot within float
    /// reassociation), except F16 and BF16 (F16Gemm), which agree with VecDot within float reassociation.</summary>
    public static void MatMulRows(GgmlType weightType, byte* weights, long rowBytes, int rowStart, int rowEnd,
        ReadOnlySpan<byte> activations, int activationRowBytes, int numActivations, Span<float> y, int yStride, int n) =>
        MatMulRows(weightType, weights, rowBytes, rowStart, rowEnd, activations, activationRowBytes, numActivations, y, yStride, n, Simd.Best);

    internal static void MatMulRows(GgmlType weightType, byte* weights, long rowBytes, int rowStart, int rowEnd,
        ReadOnlySpan<byte> activations, int activationRowBytes, int numActivations, Span<float> y, int yStride, int n, SimdLevel level) =>
        MatMulRows(weightType, weights, rowBytes, rowStart, rowEnd, activations, activationRowBytes, numActivations, y, yStride, n, level, null);

    /// <summary>MatMulRows with the activations prepared once for the whole product by QuantDots.PrepareGemm (for
    /// a type with a QuantDots.ResolvePreparedGemm kernel at this level), or null to prepare them per call: a
    /// product split across many calls (a thread pool's chunks) then does that work once. The same outputs.</summary>
    internal static void MatMulRows(GgmlType weightType, byte* weights, long rowBytes, int rowStart, int rowEnd,
        ReadOnlySpan<byte> activations, int activationRowBytes, int numActivations, Span<float> y, int yStride, int n, SimdLevel level,
        int* prepared)
    {
        CheckRows(weightType, rowBytes, rowStart, rowEnd, n, int.MaxValue);
        if (numActivations < 1 || yStride < rowEnd || y.Length < (long)(numActivations - 1) * yStride + rowEnd
            || activations.Length < (long)activationRowBytes * numActivations
            || activationRowBytes < GgmlTypes.RowBytes(VecDotType(weightType), n))
            throw new ArgumentException("activations or y are too small for numActivations rows of yStride outputs");
        int rows = rowEnd - rowStart;
        if (rows == 0) return;
        var gemm = QuantDots.ResolveGemm(weightType, level);
        var dot = QuantDots.Resolve(weightType, level);
        fixed (byte* a = activations)
        fixed (float* yp = y)
        {
            byte* w = weights + rowStart * rowBytes;
            if (prepared != null)
            {
                var kernel = QuantDots.ResolvePreparedGemm(weightType, level);
                if (kernel == null) throw new ArgumentException($"{weightType} has no prepared prompt kernel at {level}");
                kernel(w, rowBytes, rows, a, activationRowBytes, numActivations, yp + rowStart, yStride, n, prepared);
                return;
            }
            if (gemm != null)
            {
                gemm(w, rowBytes, rows, a, activationRowBytes, numActivations, yp + rowStart, yStride, n);
                return;
            }
            for (int r = rowStart; r < rowEnd; r++, w += rowBytes)
                for (int t = 0; t < numActivations; t++) yp[(long)t * yStride + r] = dot(w, a + (long)t * activationRowBytes, n);
        }
    }

    static void CheckRow(GgmlType type, int n, int bytes)
    {
        var info = GgmlTypes.Info(type);
        if (n % info.BlockSize != 0)
            throw new ArgumentException($"{type} rows hold a multiple of {info.BlockSize} elements, not {n}");
        if (bytes < (long)n / info.BlockSize * info.TypeSize)
            throw new ArgumentException($"a {type} row of {n} elements needs {n / info.BlockSize * info.TypeSize} bytes, not {bytes}");
    }

    static void CheckRows(GgmlType type, long rowBytes, int rowStart, int rowEnd, int n, int yLength)
    {
        CheckRow(type, n, (int)Math.Min(int.MaxValue, rowBytes));
        if (rowStart < 0 || rowEnd < rowStart || yLength < rowEnd - rowStart)
            throw new ArgumentException($"bad row range [{rowStart}, {rowEnd}) for {yLength} outputs");
        Debug.Assert(rowBytes >= GgmlTypes.RowBytes(type, n));
    }
}
