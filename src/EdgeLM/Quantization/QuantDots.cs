// The dot-product table: for a weight type and SIMD level, the function that takes one weight row and
// one activation row (already in the vec_dot type) and returns their dot. Resolved once per call of
// VecDotRows, so the per-row cost is one indirect call.
using System.Numerics.Tensors;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

internal static unsafe class QuantDots
{
    public static delegate*<byte*, byte*, int, float> Resolve(GgmlType type, SimdLevel level) => type switch
    {
        GgmlType.F32 => &DotF32,
        GgmlType.F16 => level switch
        {
            SimdLevel.Vector512 => &F16Rows.Dot512,
            SimdLevel.Vector256 => &F16Rows.Dot256,
            SimdLevel.Vector128 => &F16Rows.Dot128,
            _ => &DotF16,
        },
        GgmlType.BF16 => level switch
        {
            SimdLevel.Vector512 => &BF16Rows.Dot512,
            SimdLevel.Vector256 => &BF16Rows.Dot256,
            SimdLevel.Vector128 => &BF16Rows.Dot128,
            _ => &DotBF16,
        },
        GgmlType.Q8_0 => level == SimdLevel.Scalar ? &DotQ8_0 : Q8_0Simd.Resolve(level),
        GgmlType.Q4_0 => level == SimdLevel.Scalar ? &DotQ4_0 : Q4_0Simd.Resolve(level),
        GgmlType.Q5_0 => level == SimdLevel.Scalar ? &DotQ5_0 : Q5_0Simd.Resolve(level),
        GgmlType.Q4_1 => &DotQ4_1,
        GgmlType.Q5_1 => &DotQ5_1,
        GgmlType.Q2_K => &DotQ2_K,
        GgmlType.Q3_K => &DotQ3_K,
        GgmlType.Q4_K => level == SimdLevel.Scalar ? &DotQ4_K : Q4_KSimd.Resolve(level),
        GgmlType.Q5_K => &DotQ5_K,
        GgmlType.Q6_K => level == SimdLevel.Scalar ? &DotQ6_K : Q6_KSimd.Resolve(level),
        _ => throw new NotSupportedException($"{type} dot products are not implemented"),
    };

    /// <summary>A kernel for several weight rows against one activation row (y[r] = dot(W[r], x), rows
    /// rb bytes apart), bit-identical to Resolve's dot, or null where the type has none at this level.</summary>
    public static delegate*<byte*, long, int, byte*, float*, int, void> ResolveRows(GgmlType type, SimdLevel level) =>
        (level, type) switch
        {
            (SimdLevel.Vector512, GgmlType.Q4_K) => &KQuantRows.RowsQ4_K,
            (SimdLevel.Vector512, GgmlType.Q6_K) => &KQuantRows.RowsQ6_K,
            _ => null,
        };

    /// <summary>A tiled kernel for rows x activations (see Block32Multi.Rows), or null where the type
    /// has none at this level and the single-row dot is looped instead.</summary>
    public static delegate*<byte*, long, int, byte*, long, int, float*, int, int, void> ResolveMulti(GgmlType type, SimdLevel level) =>
        level != SimdLevel.Vector512 ? null : type switch
        {
            GgmlType.Q8_0 => &Block32Multi.Rows<SignedPair<Q8_0Block>>,
            GgmlType.Q5_0 => &Block32Multi.Rows<SignedPair<Q5_0Block>>,
            GgmlType.Q4_0 => &Block32Multi.Rows<Q4_0Pair>,
            GgmlType.Q4_K => &KQuantMulti.RowsQ4_K,
            GgmlType.Q6_K => &KQuantMulti.RowsQ6_K,
            _ => null,
        };

    /// <summary>A blocked kernel for a whole row range against a micro-batch (see Block32GemmLanes.Rows,
    /// KQuantLanes, Block32Gemm256.Rows, KQuantGemm), else the tiled one (ResolveMulti), else null. Same signature;
    /// outputs bit-identical to ResolveGemmDot's function (F16's and BF16's within float reassociation).</summary>
    public static delegate*<byte*, long, int, byte*, long, int, float*, int, int, void> ResolveGemm(GgmlType type, SimdLevel level) =>
        (level, type) switch
        {
            // AVX-512 BW: sixteen rows in the lanes, unpacked per row tile (exact to Block32GemmLanes.ReferenceDot).
            (SimdLevel.Vector512, GgmlType.Q8_0) when Block32GemmLanes.Supported => &Block32GemmLanes.Rows<Q8_0Lanes, SignedPair<Q8_0Block>>,
            (SimdLevel.Vector512, GgmlType.Q5_0) when Block32GemmLanes.Supported => &Block32GemmLanes.Rows<Q5_0Lanes, SignedPair<Q5_0Block>>,
            (SimdLevel.Vector512, GgmlType.Q4_0) when Block32GemmLanes.Supported => &Block32GemmLanes.Rows<Q4_0Lanes, Q4_0Pair>,
            // The same tile for the K-quants' super-blocks (exact to KQuantLanes.ReferenceDot from MinActivations on).
            (SimdLevel.Vector512, GgmlType.Q4_K) when KQuantLanes.Supported => &KQuantLanes.RowsQ4_K,
            (SimdLevel.Vector512, GgmlType.Q6_K) when KQuantLanes.Supported => &KQuantLanes.RowsQ6_K,
            (SimdLevel.Vector512, GgmlType.Q4_K) => &KQuantGemm.RowsQ4_K,
            (SimdLevel.Vector512, GgmlType.Q6_K) => &KQuantGemm.RowsQ6_K,
            // Q8_0's two planes leave the 256-bit tile short of registers: 0.85x Block32Gemm256 (KernelBench --gemm 256).
            (SimdLevel.Vector256, GgmlType.Q8_0) => &Block32Gemm256.Rows<Q8_0Block>,
            (SimdLevel.Vector256, GgmlType.Q5_0) when Block32GemmLanes.Supported256 => &Block32GemmLanes.Rows256<Q5_0Lanes, Q5_0Block>,
            (SimdLevel.Vector256, GgmlType.Q4_0) when Block32GemmLanes.Supported256 => &Block32GemmLanes.Rows256<Q4_0Lanes, Q4_0Block>,
            (SimdLevel.Vector512, GgmlType.F16) => &F16Gemm.Rows512, // within reassociation of the dot, not bit-identical
            (SimdLevel.Vector256, GgmlType.F16) => &F16Gemm.Rows256,
            (SimdLevel.Vector512, GgmlType.BF16) => &F16Gemm.Bf16Rows512,
            (SimdLevel.Vector256, GgmlType.BF16) => &F16Gemm.Bf16Rows256,
            _ => ResolveMulti(type, level),
        };

    /// <summary>ResolveGemm's kernel where it takes its activations prepared once per product (the rows-in-lanes
    /// tiles of Q4_0, Q5_0 and Q8_0: per block the scale and Offset * sum(y), Block32GemmLanes.PrepareActivations),
    /// else null. The same outputs as ResolveGemm's kernel; the prepared data comes from <see cref="PrepareGemm"/>.</summary>
    internal static delegate*<byte*, long, int, byte*, long, int, float*, int, int, int*, void> ResolvePreparedGemm(GgmlType type, SimdLevel level) =>
        (level, type) switch
        {
            (SimdLevel.Vector512, GgmlType.Q8_0) when Block32GemmLanes.Supported => &Block32GemmLanes.Rows<Q8_0Lanes, SignedPair<Q8_0Block>>,
            (SimdLevel.Vector512, GgmlType.Q5_0) when Block32GemmLanes.Supported => &Block32GemmLanes.Rows<Q5_0Lanes, SignedPair<Q5_0Block>>,
            (SimdLevel.Vector512, GgmlType.Q4_0) when Block32GemmLanes.Supported => &Block32GemmLanes.Rows<Q4_0Lanes, Q4_0Pair>,
            (SimdLevel.Vector256, GgmlType.Q5_0) when Block32GemmLanes.Supported256 => &Block32GemmLanes.Rows256<Q5_0Lanes, Q5_0Block>,
            (SimdLevel.Vector256, GgmlType.Q4_0) when Block32GemmLanes.Supported256 => &Block32GemmLanes.Rows256<Q4_0Lanes, Q4_0Block>,
            _ => null,
        };

    /// <summary>Prepares na Q8_0 activation rows (a, ab bytes apart, n elements) for ResolvePreparedGemm's kernel
    /// of a <paramref name="type"/> matrix: <see cref="Block32GemmLanes.PreparedBytes"/> bytes at dst, activation t's
    /// part at dst + t * PreparedBytes(1, n), so a range of activations can be prepared on its own.</summary>
    internal static void PrepareGemm(GgmlType type, byte* a, long ab, int na, int n, int* dst)
    {
        switch (type)
        {
            case GgmlType.Q8_0: Block32GemmLanes.PrepareActivations<Q8_0Lanes>(a, ab, na, n / 32, dst); break;
            case GgmlType.Q5_0: Block32GemmLanes.PrepareActivations<Q5_0Lanes>(a, ab, na, n / 32, dst); break;
            case GgmlType.Q4_0: Block32GemmLanes.PrepareActivations<Q4_0Lanes>(a, ab, na, n / 32, dst); break;
            default: throw new ArgumentException($"{type} has no prepared prompt kernel");
        }
    }

    /// <summary>The per-pair function every output of MatMulRows equals bit for bit at this level for a
    /// micro-batch of numActivations rows: the rows-in-lanes tiles' order (Block32GemmLanes.ReferenceDot at
    /// 512 and 256 bits, KQuantLanes.ReferenceDot) where those kernels run, else the per-pair dot (Resolve).
    /// F16 and BF16 agree with it only within float reassociation (F16Gemm).</summary>
    internal static delegate*<byte*, byte*, int, float> ResolveGemmDot(GgmlType type, SimdLevel level, int numActivations) =>
        (level, type) switch
        {
            (SimdLevel.Vector512, GgmlType.Q8_0) when Block32GemmLanes.Supported && numActivations >= Block32GemmLanes.MinActivations => &LanesQ8_0,
            (SimdLevel.Vector512, GgmlType.Q5_0) when Block32GemmLanes.Supported && numActivations >= Block32GemmLanes.MinActivations => &LanesQ5_0,
            (SimdLevel.Vector512, GgmlType.Q4_0) when Block32GemmLanes.Supported && numActivations >= Block32GemmLanes.MinActivations => &LanesQ4_0,
            (SimdLevel.Vector256, GgmlType.Q5_0) when Block32GemmLanes.Supported256 && numActivations >= Block32GemmLanes.MinActivations => &LanesQ5_0,
            (SimdLevel.Vector256, GgmlType.Q4_0) when Block32GemmLanes.Supported256 && numActivations >= Block32GemmLanes.MinActivations => &LanesQ4_0,
            (SimdLevel.Vector512, GgmlType.Q4_K) when KQuantLanes.Supported && numActivations >= KQuantLanes.MinActivations => &LanesQ4_K,
            (SimdLevel.Vector512, GgmlType.Q6_K) when KQuantLanes.Supported && numActivations >= KQuantLanes.MinActivations => &LanesQ6_K,
            _ => Resolve(type, level),
        };

    static float LanesQ8_0(byte* w, byte* a, int n) => Block32GemmLanes.ReferenceDot(GgmlType.Q8_0, w, a, n);
    static float LanesQ5_0(byte* w, byte* a, int n) => Block32GemmLanes.ReferenceDot(GgmlType.Q5_0, w, a, n);
    static float LanesQ4_0(byte* w, byte* a, int n) => Block32GemmLanes.ReferenceDot(GgmlType.Q4_0, w, a, n);
    static float LanesQ4_K(byte* w, byte* a, int n) => KQuantLanes.ReferenceDot(GgmlType.Q4_K, w, a, n);
    static float LanesQ6_K(byte* w, byte* a, int n) => KQuantLanes.ReferenceDot(GgmlType.Q6_K, w, a, n);

    static float DotF32(byte* w, byte* a, int n) =>
        TensorPrimitives.Dot(new ReadOnlySpan<float>(w, n), new ReadOnlySpan<float>(a, n));
    static float DotF16(byte* w, byte* a, int n) => F16.VecDot((ushort*)w, (ushort*)a, n);
    static float DotBF16(byte* w, byte* a, int n) => BF16.VecDot((ushort*)w, (ushort*)a, n);
    static float DotQ8_0(byte* w, byte* a, int n) => Q8_0.VecDot((BlockQ8_0*)w, (BlockQ8_0*)a, n);
    static float DotQ4_0(byte* w, byte* a, int n) => Q4_0.VecDot((BlockQ4_0*)w, (BlockQ8_0*)a, n);
    static float DotQ5_0(byte* w, byte* a, int n) => Q5_0.VecDot((BlockQ5_0*)w, (BlockQ8_0*)a, n);
    static float DotQ4_1(byte* w, byte* a, int n) => Q4_1.VecDot((BlockQ4_1*)w, (BlockQ8_1*)a, n);
    static float DotQ5_1(byte* w, byte* a, int n) => Q5_1.VecDot((BlockQ5_1*)w, (BlockQ8_1*)a, n);
    static float DotQ2_K(byte* w, byte* a, int n) => Q2_K.VecDot((BlockQ2_K*)w, (BlockQ8_K*)a, n);
    static float DotQ3_K(byte* w, byte* a, int n) => Q3_K.VecDot((BlockQ3_K*)w, (BlockQ8_K*)a, n);
    static float DotQ4_K(byte* w, byte* a, int n) => Q4_K.VecDot((BlockQ4_K*)w, (BlockQ8_K*)a, n);
    static float DotQ5_K(byte* w, byte* a, int n) => Q5_K.VecDot((BlockQ5_K*)w, (BlockQ8_K*)a, n);
    static float DotQ6_K(byte* w, byte* a, int n) => Q6_K.VecDot((BlockQ6_K*)w, (BlockQ8_K*)a, n);
}
