// Dispatch over the tensor types: reference quantization, dequantization and dot products, one
// switch per row (never per element). The per-type code lives in one file per format beside this.
// Activations are quantized to VecDotType(weightType) before a dot product, as llama.cpp's CPU
// backend does, so logits agree with it closely.
using System.Runtime.InteropServices;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

public static class QuantKernels
{
    /// <summary>The type llama.cpp's CPU backend converts activations to before a dot product with
    /// weights of <paramref name="weightType"/> (type_traits_cpu[].vec_dot_type).</summary>
    public static GgmlType VecDotType(GgmlType weightType) => weightType switch
    {
        GgmlType.F32 => GgmlType.F32,
        _ => throw new NotSupportedException($"{weightType} dot products are not implemented yet"),
    };

    /// <summary>Quantizes one row (n = src.Length, a multiple of the block size) into dst.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            default: throw new NotSupportedException($"quantizing to {type} is not implemented yet");
        }
    }

    /// <summary>Dequantizes one row of dst.Length elements.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(src)[..dst.Length].CopyTo(dst); break;
            default: throw new NotSupportedException($"dequantizing {type} is not implemented yet");
        }
    }

    /// <summary>Dot product of one weight row with an activation row already in VecDotType(weightType).</summary>
    public static float VecDot(GgmlType weightType, ReadOnlySpan<byte> weightRow, ReadOnlySpan<byte> activation, int n)
    {
        switch (weightType)
        {
            case GgmlType.F32:
                return System.Numerics.Tensors.TensorPrimitives.Dot(
                    MemoryMarshal.Cast<byte, float>(weightRow)[..n], MemoryMarshal.Cast<byte, float>(activation)[..n]);
            default: throw new NotSupportedException($"{weightType} dot products are not implemented yet");
        }
    }

    /// <summary>y[r - rowStart] = dot(W[r], x) for rows [rowStart, rowEnd) of a row-major weight matrix.</summary>
    public static unsafe void VecDotRows(GgmlType weightType, byte* weights, long rowBytes, int rowStart, int rowEnd,
        ReadOnlySpan<byte> activation, Span<float> y, int n)
    {
        for (int r = rowStart; r < rowEnd; r++)
            y[r - rowStart] = VecDot(weightType, new ReadOnlySpan<byte>(weights + r * rowBytes, (int)rowBytes), activation, n);
    }
}
