// The three weight formats of the decode path (Block32Decode, IDecode32): where a step's loads sit in
// the stored blocks (no repacking), the vpermb / vpermt2w controls that place nibbles, high bits and
// scales, and each format's activation-only term. Controls are literals so the JIT embeds them; the
// tests compare each with its generator. Spec: ggml block_q4_0, block_q5_0, block_q8_0.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

/// <summary>Q4_0 (18-byte blocks): pair 0 from [0, 64), pair 1 from [8, 72) of the 72-byte step;
/// the four scales sit at words 0, 9, 18, 27 of the first load.</summary>
internal unsafe struct Q4_0Decode : IDecode32
{
    // Controls as literals so the JIT embeds them (static readonly vectors cost an init check per use);
    // the tests compare each with its generator: Twice(2, 20), Twice(30, 48), Words(0, 9, 18, 27, 32, 41, 50, 59).
    internal static Vector512<byte> C0
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x0908070605040302ul, 0x11100F0E0D0C0B0Aul, 0x0908070605040302ul, 0x11100F0E0D0C0B0Aul,
            0x1B1A191817161514ul, 0x232221201F1E1D1Cul, 0x1B1A191817161514ul, 0x232221201F1E1D1Cul).AsByte();
    }
    internal static Vector512<byte> C1
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x2524232221201F1Eul, 0x2D2C2B2A29282726ul, 0x2524232221201F1Eul, 0x2D2C2B2A29282726ul,
            0x3736353433323130ul, 0x3F3E3D3C3B3A3938ul, 0x3736353433323130ul, 0x3F3E3D3C3B3A3938ul).AsByte();
    }
    internal static Vector512<ushort> S8
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x0000000900000000ul, 0x0000001B00000012ul, 0x0000002900000020ul, 0x0000003B00000032ul,
            0ul, 0ul, 0ul, 0ul).AsUInt16();
    }

    public static int BlockBytes => 18;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Scales8(byte* p) =>
        Avx512BW.PermuteVar32x16x2(Vector512.Load((ushort*)p), S8, Vector512.Load((ushort*)(p + 72))).AsUInt32().GetLower();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Scales4(byte* p) =>
        Avx512BW.PermuteVar32x16(Vector512.Load((ushort*)p), S8).AsUInt32().GetLower().GetLower();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Pair(byte* p, int pair, byte* s) =>
        Block32Decode.OffsetDot(Block32Decode.Nibbles(Vector512.Load(p + 8 * pair), pair == 0 ? C0 : C1), s, s + 128);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<byte> U, Vector512<sbyte> M) Weights(byte* p, int pair) =>
        (Block32Decode.Nibbles(Vector512.Load(p + 8 * pair), pair == 0 ? C0 : C1), default);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Dot(Vector512<byte> u, Vector512<sbyte> m, byte* y, byte* aux) => Block32Decode.OffsetDot(u, y, aux);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Aux(Vector512<sbyte> y, byte* dst) => Block32Decode.OffsetAux(y, 8, dst);

    public static float Tail(byte* w, byte* a, int n) => Block32Simd.Dot256<Q4_0Block>(w, a, n);
}

/// <summary>Q5_0 (22-byte blocks): pair 0 from [0, 64), pair 1 from [24, 88) of the 88-byte step.
/// The pair's two qh words are gathered into every qword (vpermb); vpmultishiftqb with control
/// (e - 4) mod 64 brings bit e of that qword to bit 4 of byte e, which is element e's fifth bit.</summary>
internal unsafe struct Q5_0Decode : IDecode32
{
    // Literal controls (see Q4_0Decode); generators: Twice(6, 28), Twice(26, 48), HighWords(2, 24),
    // HighWords(22, 44), ShiftControl(), Words(0, 11, 32 + 10, 32 + 21).
    internal static Vector512<byte> C0
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x0D0C0B0A09080706ul, 0x1514131211100F0Eul, 0x0D0C0B0A09080706ul, 0x1514131211100F0Eul,
            0x232221201F1E1D1Cul, 0x2B2A292827262524ul, 0x232221201F1E1D1Cul, 0x2B2A292827262524ul).AsByte();
    }
    internal static Vector512<byte> C1
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x21201F1E1D1C1B1Aul, 0x2928272625242322ul, 0x21201F1E1D1C1B1Aul, 0x2928272625242322ul,
            0x3736353433323130ul, 0x3F3E3D3C3B3A3938ul, 0x3736353433323130ul, 0x3F3E3D3C3B3A3938ul).AsByte();
    }
    internal static Vector512<byte> H0
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x1B1A191805040302ul).AsByte();
    }
    internal static Vector512<byte> H1
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x2F2E2D2C19181716ul).AsByte();
    }
    internal static Vector512<byte> Shift
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x030201003F3E3D3Cul, 0x0B0A090807060504ul, 0x131211100F0E0D0Cul, 0x1B1A191817161514ul,
            0x232221201F1E1D1Cul, 0x2B2A292827262524ul, 0x333231302F2E2D2Cul, 0x3B3A393837363534ul).AsByte();
    }
    internal static Vector512<ushort> S4
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x0000000B00000000ul, 0x000000350000002Aul, 0ul, 0ul, 0ul, 0ul, 0ul, 0ul).AsUInt16();
    }

    public static int BlockBytes => 22;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Scales8(byte* p) => Vector256.Create(Scales4(p), Scales4(p + 88));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Scales4(byte* p) =>
        Avx512BW.PermuteVar32x16x2(Vector512.Load((ushort*)p), S4, Vector512.Load((ushort*)(p + 24))).AsUInt32().GetLower().GetLower();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Pair(byte* p, int pair, byte* s) => Block32Decode.OffsetDot(Weights(p, pair).U, s, s + 128);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<byte> U, Vector512<sbyte> M) Weights(byte* p, int pair)
    {
        var v = Vector512.Load(p + 24 * pair);
        var nib = Block32Decode.Nibbles(v, pair == 0 ? C0 : C1);
        var qh = Avx512Vbmi.PermuteVar64x8(v, pair == 0 ? H0 : H1).AsUInt64();
        var bit4 = Avx512Vbmi.MultiShift(Shift, qh) & Vector512.Create((byte)0x10);
        return (nib | bit4, default);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Dot(Vector512<byte> u, Vector512<sbyte> m, byte* y, byte* aux) => Block32Decode.OffsetDot(u, y, aux);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Aux(Vector512<sbyte> y, byte* dst) => Block32Decode.OffsetAux(y, 16, dst);

    public static float Tail(byte* w, byte* a, int n) => Block32Simd.Dot256<Q5_0Block>(w, a, n);

    /// <summary>Every qword: the 4 qh bytes at lo, then the 4 at hi.</summary>
    internal static Vector512<byte> HighWords(int lo, int hi)
    {
        var c = new byte[64];
        for (int i = 0; i < 64; i++) c[i] = (byte)((i & 7) < 4 ? lo + (i & 3) : hi + (i & 3));
        return Vector512.Create(c);
    }

    internal static Vector512<byte> ShiftControl()
    {
        var c = new byte[64];
        for (int e = 0; e < 64; e++) c[e] = (byte)((e - 4) & 63);
        return Vector512.Create(c);
    }
}
