// Decode-shaped products (many weight rows against ONE Q8_0 activation row) of the 32-element block
// types Q4_0, Q5_0 and Q8_0 at 512 bits with AVX-512 VBMI and GFNI. The activation row is prepared
// once per product (Prepare): its fp16 scales as floats, its block pairs' bytes contiguous, and the
// per-lane term each weight format needs from the activation alone (the offset 8 * sum(y) or
// 16 * sum(y) of four elements for Q4_0 / Q5_0, -y for Q8_0's sign trick), so the row loop streams
// weights only. Weights stay as stored (memory-mapped, no repacking): one 64-byte load covers a pair
// of Q4_0 blocks, vpermb places each packed byte twice in activation order and one vgf2p8affineqb
// (a per-qword bit matrix) keeps the low nibble in one copy and moves the high nibble down in the
// other; Q5_0's fifth bit comes from vpermb of the two qh words and vpmultishiftqb (bit e of the pair
// to bit 4 of byte e). The weight scales of eight blocks come from two loads and one word permute
// (vpermt2w) and are widened together.
//
// Bit-identical to Block32Simd.Dot512 / Dot512Q4_0 (and so to Block32Multi, which the tests hold to
// them): the same integer lane sums (exact), the same products dx * dy of exactly
// widened scales, the same FMA order into the same two accumulators (blocks 4k, 4k+1 and 4k+2,
// 4k+3), the same reduction and the same 256-bit tail for fewer than four blocks.
// No load leaves the row: a step of four blocks reads [0, 64) and [end - 64, end) of its own bytes.
// At Vector256, Q4_0 and Q5_0 take Block32Decode256 (same preparation idea, Dot256's order); other
// levels and types keep the single-row dot. Not for several activation rows (Block32GemmLanes).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

/// <summary>One weight format's decode step: four blocks, read as two pairs of two blocks.</summary>
internal unsafe interface IDecode32
{
    static abstract int BlockBytes { get; }
    /// <summary>The fp16 scales of blocks 0..3 (p) and 4..7 (p + 4 * BlockBytes) in the low 16 bits
    /// of the 8 lanes (the high bits are ignored by the widening).</summary>
    static abstract Vector256<uint> Scales8(byte* p);
    static abstract Vector128<uint> Scales4(byte* p);
    /// <summary>16 int lanes of pair `pair` (0: blocks 0, 1; 1: blocks 2, 3) of the step at p, lane j
    /// the exact sum of elements 4j..4j+3 of weight times activation; s is the pair's prepared record.</summary>
    static abstract Vector512<int> Pair(byte* p, int pair, byte* s);
    /// <summary>Pair's weight half: the pair's unsigned (or absolute) weights and, for signed formats,
    /// their sign mask.</summary>
    static abstract (Vector512<byte> U, Vector512<sbyte> M) Weights(byte* p, int pair);
    /// <summary>Pair's activation half: the lanes of Pair from Weights' output, the pair's bytes y and
    /// its prepared activation-only term aux.</summary>
    static abstract Vector512<int> Dot(Vector512<byte> u, Vector512<sbyte> m, byte* y, byte* aux);
    /// <summary>The activation-only half of a prepared pair record (64 bytes at dst) from its bytes y.</summary>
    static abstract void Aux(Vector512<sbyte> y, byte* dst);
    /// <summary>The single-row dot's tail for fewer than four blocks.</summary>
    static abstract float Tail(byte* w, byte* a, int n);
}

[SkipLocalsInit]
internal static unsafe class Block32Decode
{
    const int QK = 32, YB = 34, Record = 256; // elements per block, sizeof(BlockQ8_0), bytes per prepared step
    /// <summary>Below this many rows, preparing costs more than it saves.</summary>
    const int MinRows = 4;

    // The prepared activation row (see Prepare), one per thread, grown once and reused: no allocation
    // per product after the first.
    [ThreadStatic] static byte[]? t_prepared;

    public static bool Supported(GgmlType type, SimdLevel level) => level switch
    {
        // Q8_0 is left to Block32Simd.Dot512: its step here is 1.4x faster on matrices in cache but no faster
        // on matrices read from memory (KernelBench 151936x896: 71.6 against 68.5 ps/element with the prefetch
        // below, 132 without), and end to end it decoded 9% slower; a model's weights come from memory when
        // it decodes.
        SimdLevel.Vector512 => Avx512Vbmi.IsSupported && Gfni.V512.IsSupported && type is GgmlType.Q4_0 or GgmlType.Q5_0,
        SimdLevel.Vector256 => Avx2.IsSupported && Fma.IsSupported && type is GgmlType.Q4_0 or GgmlType.Q5_0,
        _ => false,
    };

    /// <summary>y[r] = dot(W[r], x) for r in [0, rows), W rows rb bytes apart, x one Q8_0 row at a;
    /// false (nothing written) where this path does not apply and the caller loops the single dot.</summary>
    public static bool Rows(GgmlType type, SimdLevel level, byte* w, long rb, int rows, byte* a, float* y, int n)
    {
        int steps = n / QK / 4;
        if (!Supported(type, level) || steps == 0 || rows < MinRows) return false;
        int dyBytes = (16 * steps + 63) & ~63;
        int need = Math.Max(dyBytes + steps * Record, 36 * (n / QK) + 32) + 64; // 512-bit or 256-bit layout
        var buf = t_prepared is { } b && b.Length >= need ? b : (t_prepared = GC.AllocateUninitializedArray<byte>(need, pinned: true));
        fixed (byte* pb = buf)
        {
            // 64-byte aligned: the row loop reads the records as memory operands.
            byte* p = (byte*)(((nint)pb + 63) & ~(nint)63);
            switch (type)
            {
                case GgmlType.Q4_0 when level == SimdLevel.Vector256: Block32Decode256.Rows<Q4_0Block>(w, rb, rows, a, p, y, n); break;
                case GgmlType.Q5_0 when level == SimdLevel.Vector256: Block32Decode256.Rows<Q5_0Block>(w, rb, rows, a, p, y, n); break;
                case GgmlType.Q4_0: Run<Q4_0Decode>(w, rb, rows, a, p, dyBytes, y, n); break;
                default: Run<Q5_0Decode>(w, rb, rows, a, p, dyBytes, y, n); break;
            }
        }
        return true;
    }

    static void Run<T>(byte* w, long rb, int rows, byte* a, byte* p, int dyBytes, float* y, int n) where T : IDecode32
    {
        Prepare<T>(a, n / QK / 4, (float*)p, p + dyBytes);
        int r = 0;
        // Two rows at a time: four independent FMA chains and one read of each prepared record.
        for (; r + 1 < rows; r += 2, w += 2 * rb) Dot2<T>(w, rb, a, (float*)p, p + dyBytes, y + r, n);
        if (r < rows) y[r] = Dot<T>(w, a, (float*)p, p + dyBytes, n);
    }

    /// <summary>dy (4 * steps floats): the activation scales widened; then per step a 256-byte record:
    /// [0, 64) bytes of blocks 4s, 4s + 1, [64, 128) of 4s + 2, 4s + 3, [128, 192) and [192, 256) the
    /// format's activation-only terms of those two pairs (T.Aux).</summary>
    static void Prepare<T>(byte* a, int steps, float* dy, byte* rec) where T : IDecode32
    {
        for (int s = 0; s < steps; s++, a += 4 * YB, rec += Record)
        {
            for (int j = 0; j < 4; j++) dy[4 * s + j] = QuantMath.HalfToFloat(*(ushort*)(a + j * YB));
            for (int pair = 0; pair < 2; pair++)
            {
                byte* q = a + 2 * pair * YB + 2;
                var v = Vector256.Load((sbyte*)q).ToVector512Unsafe().WithUpper(Vector256.Load((sbyte*)q + YB));
                v.Store((sbyte*)(rec + 64 * pair));
                T.Aux(v, rec + 128 + 64 * pair);
            }
        }
    }

    /// <summary>Eight blocks per iteration (one scale widening for eight), four in the last one if the
    /// step count is odd; acc0 takes pair 0 and acc1 pair 1 of every step, as Dot512.</summary>
    static float Dot<T>(byte* w, byte* a, float* dy, byte* rec, int n) where T : IDecode32
    {
        int b = T.BlockBytes, steps = n / QK / 4, k = 0;
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        Vector512<int> l0 = Lanes(0), l2 = Lanes(2), l4 = Lanes(4), l6 = Lanes(6);
        for (; k + 1 < steps; k += 2, w += 8 * b, rec += 2 * Record)
        {
            var d = (QuantMath.HalfToFloat(T.Scales8(w)) * Vector256.Load(dy + 4 * k)).ToVector512Unsafe();
            acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w, 0, rec)), Avx512F.PermuteVar16x32(d, l0), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w, 1, rec + 64)), Avx512F.PermuteVar16x32(d, l2), acc1);
            acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w + 4 * b, 0, rec + Record)), Avx512F.PermuteVar16x32(d, l4), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w + 4 * b, 1, rec + Record + 64)), Avx512F.PermuteVar16x32(d, l6), acc1);
        }
        if (k < steps)
        {
            var d = (QuantMath.HalfToFloat(T.Scales4(w)) * Vector128.Load(dy + 4 * k)).ToVector256Unsafe().ToVector512Unsafe();
            acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w, 0, rec)), Avx512F.PermuteVar16x32(d, l0), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w, 1, rec + 64)), Avx512F.PermuteVar16x32(d, l2), acc1);
            w += 4 * b;
        }
        float sum = Vector512.Sum(acc0 + acc1);
        int rest = n - 4 * QK * steps;
        if (rest > 0) sum += T.Tail(w, a + (long)4 * steps * YB, rest);
        return sum;
    }

    /// <summary>Dot for rows w and w + rb at once, each with exactly Dot's operations.</summary>
    static void Dot2<T>(byte* w, long rb, byte* a, float* dy, byte* rec, float* y, int n) where T : IDecode32
    {
        int b = T.BlockBytes, steps = n / QK / 4, k = 0;
        Vector512<float> p0 = default, p1 = default, q0 = default, q1 = default; // row 0's acc0, acc1; row 1's
        Vector512<int> l0 = Lanes(0), l2 = Lanes(2), l4 = Lanes(4), l6 = Lanes(6);
        byte* v = w + rb;
        // The next pair of rows, a step's share ahead per step (as KQuantRows does): two interleaved row
        // streams otherwise outrun the hardware prefetcher on matrices read from memory.
        byte* next = w + 2 * rb;
        for (; k + 1 < steps; k += 2, w += 8 * b, v += 8 * b, rec += 2 * Record)
        {
            for (int o = 0; o < 16 * b; o += 64) Sse.Prefetch0(next + (long)k * 8 * b + o);
            var e = Vector256.Load(dy + 4 * k);
            var d = (QuantMath.HalfToFloat(T.Scales8(w)) * e).ToVector512Unsafe();
            var f = (QuantMath.HalfToFloat(T.Scales8(v)) * e).ToVector512Unsafe();
            p0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w, 0, rec)), Avx512F.PermuteVar16x32(d, l0), p0);
            q0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(v, 0, rec)), Avx512F.PermuteVar16x32(f, l0), q0);
            p1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w, 1, rec + 64)), Avx512F.PermuteVar16x32(d, l2), p1);
            q1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(v, 1, rec + 64)), Avx512F.PermuteVar16x32(f, l2), q1);
            p0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w + 4 * b, 0, rec + Record)), Avx512F.PermuteVar16x32(d, l4), p0);
            q0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(v + 4 * b, 0, rec + Record)), Avx512F.PermuteVar16x32(f, l4), q0);
            p1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w + 4 * b, 1, rec + Record + 64)), Avx512F.PermuteVar16x32(d, l6), p1);
            q1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(v + 4 * b, 1, rec + Record + 64)), Avx512F.PermuteVar16x32(f, l6), q1);
        }
        if (k < steps)
        {
            var e = Vector128.Load(dy + 4 * k);
            var d = (QuantMath.HalfToFloat(T.Scales4(w)) * e).ToVector256Unsafe().ToVector512Unsafe();
            var f = (QuantMath.HalfToFloat(T.Scales4(v)) * e).ToVector256Unsafe().ToVector512Unsafe();
            p0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w, 0, rec)), Avx512F.PermuteVar16x32(d, l0), p0);
            q0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(v, 0, rec)), Avx512F.PermuteVar16x32(f, l0), q0);
            p1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(w, 1, rec + 64)), Avx512F.PermuteVar16x32(d, l2), p1);
            q1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(T.Pair(v, 1, rec + 64)), Avx512F.PermuteVar16x32(f, l2), q1);
            w += 4 * b;
            v += 4 * b;
        }
        float s0 = Vector512.Sum(p0 + p1), s1 = Vector512.Sum(q0 + q1);
        int rest = n - 4 * QK * steps;
        if (rest > 0)
        {
            s0 += T.Tail(w, a + (long)4 * steps * YB, rest);
            s1 += T.Tail(v, a + (long)4 * steps * YB, rest);
        }
        y[0] = s0;
        y[1] = s1;
    }

    /// <summary>vpermps indices: scale s to lanes 0..7 (the pair's first block), s + 1 to 8..15.</summary>
    static Vector512<int> Lanes(int s) => Vector512.Create(Vector256.Create(s), Vector256.Create(s + 1));

    /// <summary>Unsigned weights times y, less the prepared per-lane offset term (exact in 16 and 32 bits:
    /// |u * y| pair sums stay below 2 * 31 * 127).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<int> OffsetDot(Vector512<byte> u, byte* y, byte* aux) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, Vector512.Load((sbyte*)y)), Vector512<short>.One)
        - Vector512.Load((int*)aux);

    /// <summary>The offset term of unsigned weights with bias `bias`: bias * (sum of elements 4j..4j+3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void OffsetAux(Vector512<sbyte> y, byte bias, byte* dst) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(bias), y), Vector512<short>.One).Store((int*)dst);

    /// <summary>vpermb control placing 16 packed bytes from `lo` and 16 from `hi` as [lo, lo, hi, hi].</summary>
    internal static Vector512<byte> Twice(int lo, int hi)
    {
        var c = new byte[64];
        for (int i = 0; i < 16; i++) c[i] = c[16 + i] = (byte)(lo + i);
        for (int i = 0; i < 16; i++) c[32 + i] = c[48 + i] = (byte)(hi + i);
        return Vector512.Create(c);
    }

    /// <summary>vgf2p8affineqb matrices for [lo, lo, hi, hi]: output bit i takes input bit i (low nibble,
    /// matrix byte 7 - i = 1 &lt;&lt; i) or bit i + 4 (high nibble) for i &lt; 4, and 0 above.</summary>
    internal static Vector512<byte> NibbleMatrix
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x0102040800000000ul, 0x0102040800000000ul, 0x1020408000000000ul, 0x1020408000000000ul,
            0x0102040800000000ul, 0x0102040800000000ul, 0x1020408000000000ul, 0x1020408000000000ul).AsByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<byte> Nibbles(Vector512<byte> v, Vector512<byte> control) =>
        Gfni.V512.GaloisFieldAffineTransform(Avx512Vbmi.PermuteVar64x8(v, control), NibbleMatrix, 0);

    /// <summary>vpermt2w control: lane j (0..7) takes word i_j (32 and up: of the second table).</summary>
    internal static Vector512<ushort> Words(params ReadOnlySpan<ushort> i)
    {
        var c = new ushort[32];
        for (int j = 0; j < i.Length; j++) c[2 * j] = i[j];
        return Vector512.Create(c);
    }
}
