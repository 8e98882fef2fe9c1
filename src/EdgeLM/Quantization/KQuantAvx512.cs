// AVX-512BW single-row dots of Q4_K and Q6_K weights against Q8_K activations, one super-block (256
// weights) per step (the decode kernels for rows outside KQuantRows' tiles of four, and the dot that
// VecDot resolves to). Q4_K: 64 packed bytes per load, low nibbles against the activation regrouped
// to match (KQuantRows.Acc4). Q6_K: one register per quarter of both halves (KQuantRows.Q6Row). Group scales are spread to 16-bit lanes by
// vpermw and applied by vpmaddwd; unsigned weights go straight into vpmaddubsw; Q6_K's offset of 32 is
// taken out once per super-block with the activation's 16-sums (bsums), as ggml does. Integer sums are
// exact and the float combine is the scalar reference's expression, so results are bit-identical to it.
// Also the Q6_K unpacking for the prefill tiles (KQuantGemm).
// Spec: ggml-quants.c block_q4_K / block_q6_K layouts, get_scale_min_k4.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class KQuantAvx512
{
    /// <summary>Lane shifts (in 64-bit lanes) that move the high nibble down in the upper half only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<ulong> Halves(ulong lo, ulong hi) => Vector512.Create(Vector256.Create(lo), Vector256.Create(hi));

    /// <summary>vpermw indices that put 16-bit lane s0 in the low half and s1 in the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Spread2(int s0, int s1) =>
        Vector512.Create(Vector256.Create((short)s0), Vector256.Create((short)s1));

    /// <summary>vpermw indices that put lanes s..s+3 in four quarters of 8 lanes each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Spread4(int s) => Vector512.Create(
        Vector256.Create(Vector128.Create((short)s), Vector128.Create((short)(s + 1))),
        Vector256.Create(Vector128.Create((short)(s + 2)), Vector128.Create((short)(s + 3))));

    /// <summary>32 bytes in both halves. (Avx512F.BroadcastVector256ToVector512 from memory was
    /// compiled to a 128-bit broadcast by the optimizing JIT here, so the copy is made in registers.)</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<ulong> Broadcast256(byte* p)
    {
        var v = Vector256.Load((ulong*)p);
        return v.ToVector512Unsafe().WithUpper(v);
    }

    // Q6_K's constants as static readonly fields, which the optimizing JIT embeds as constants: built
    // with Create inside the per-block helper they were rebuilt through the stack every block.
    static readonly Vector512<short> Q6Idx0 = Spread4(0), Q6Idx1 = Spread4(4), Q6Idx2 = Spread4(8), Q6Idx3 = Spread4(12);
    static readonly Vector512<ulong> Q6Up = Halves(4, 2), Q6Down = Halves(0, 2);

    public static float DotQ4_K(byte* w, byte* a, int n)
    {
        const uint K1 = 0x3f3f3f3f, K2 = 0x0f0f0f0f, K3 = 0x03030303;
        var mask = Vector512.Create((byte)0x0F);
        // Registers [g0 | g2], [g1 | g3], [g4 | g6], [g5 | g7] (KQuantRows.Acc4's layout).
        Vector512<short> i0 = Spread2(0, 2), i1 = Spread2(1, 3), i2 = Spread2(4, 6), i3 = Spread2(5, 7);
        float sumf = 0;
        for (int i = 0; i < n / 256; i++)
        {
            var x = (BlockQ4_K*)w + i;
            var y = (BlockQ8_K*)a + i;
            // get_scale_min_k4 for all 8 groups at once (ggml's utmp unpacking): 8 scale bytes, 8 min bytes.
            uint* u = (uint*)x->Scales;
            uint u0 = u[0], u1 = u[1], u2 = u[2];
            ulong sc = (u0 & K1) | ((ulong)((u2 & K2) | (((u0 >> 6) & K3) << 4)) << 32);
            ulong mn = (u1 & K1) | ((ulong)(((u2 >> 4) & K2) | (((u1 >> 6) & K3) << 4)) << 32);
            var pairSums = Avx2.MultiplyAddAdjacent(Vector256.Load(y->Bsums), Vector256<short>.One);
            int summs = Vector256.Sum(pairSums * Avx2.ConvertToVector256Int32(Vector128.CreateScalar(mn).AsByte()));
            var scales = Avx2.ConvertToVector256Int16(Vector128.CreateScalar(sc).AsByte()).ToVector512Unsafe();

            var y0 = Vector512.Load(y->Qs).AsInt32();
            var y1 = Vector512.Load(y->Qs + 64).AsInt32();
            var y2 = Vector512.Load(y->Qs + 128).AsInt32();
            var y3 = Vector512.Load(y->Qs + 192).AsInt32();
            var acc = KQuantRows.Acc4(x->Qs, scales, i0, i1, i2, i3, Avx512F.Shuffle4x128(y0, y1, 0x44).AsSByte(),
                Avx512F.Shuffle4x128(y0, y1, 0xEE).AsSByte(), Avx512F.Shuffle4x128(y2, y3, 0x44).AsSByte(),
                Avx512F.Shuffle4x128(y2, y3, 0xEE).AsSByte(), mask);
            int isum = Vector512.Sum(acc);
            sumf += QuantMath.HalfToFloat(x->D) * y->D * isum - QuantMath.HalfToFloat(x->Dmin) * y->D * summs;
        }
        return sumf;
    }

    /// <summary>Q6_K in the quarter layout of KQuantRows.Q6Row (one register per quarter of both halves).</summary>
    public static float DotQ6_K(byte* w, byte* a, int n)
    {
        Vector512<short> i0 = KQuantRows.Quarter(0), i1 = KQuantRows.Quarter(1), i2 = KQuantRows.Quarter(2), i3 = KQuantRows.Quarter(3);
        float sumf = 0;
        for (int i = 0; i < n / 256; i++)
        {
            var x = (BlockQ6_K*)w + i;
            var y = (BlockQ8_K*)a + i;
            int isum = Vector512.Sum(KQuantRows.Q6Row(x, KQuantRows.Q6Acts.Of(y), i0, i1, i2, i3));
            sumf += QuantMath.HalfToFloat(x->D) * y->D * isum;
        }
        return sumf;
    }

    /// <summary>A Q6_K super-block unpacked for KQuantGemm: the four 64-value registers Half builds (in
    /// activation order), the group scales spread for each, and the 16-bit scales (lower half of sc16).</summary>
    internal static void UnpackQ6_K(BlockQ6_K* x, Vector512<short>* q, Vector512<short>* sc, Vector512<short>* sc16)
    {
        var low4 = Vector512.Create((byte)0x0F);
        var high2 = Vector512.Create((byte)0x30);
        for (int h = 0; h < 2; h++)
        {
            var l = Vector512.Load(x->Ql + 64 * h);
            var qh = Broadcast256(x->Qh + 32 * h);
            q[2 * h] = ((l & low4) | (Avx512F.ShiftLeftLogicalVariable(qh, Q6Up).AsByte() & high2)).AsInt16();
            q[2 * h + 1] = ((Vector512.ShiftRightLogical(l.AsUInt64(), 4).AsByte() & low4)
                | (Avx512F.ShiftRightLogicalVariable(qh, Q6Down).AsByte() & high2)).AsInt16();
        }
        var s16 = Avx2.ConvertToVector256Int16(Vector128.Load(x->Scales));
        var scales = s16.ToVector512Unsafe();
        sc[0] = Avx512BW.PermuteVar32x16(scales, Q6Idx0);
        sc[1] = Avx512BW.PermuteVar32x16(scales, Q6Idx1);
        sc[2] = Avx512BW.PermuteVar32x16(scales, Q6Idx2);
        sc[3] = Avx512BW.PermuteVar32x16(scales, Q6Idx3);
        *sc16 = s16.ToVector512Unsafe();
    }
}
