// Block32GemmLanes for CPUs without AVX-512 (AVX2 + FMA, 16 vector registers): the same rows-in-lanes
// tile at 256 bits, eight weight rows to a register and four activations (4 int16 sums, 4 float
// accumulators, one weight vector and one broadcast fit the 16 registers). Same unpacked formats
// (ILanes32), same prepared activations, same arithmetic per block (int16 sums of at most Group chunks,
// vpmaddwd, less Offset * sum(y), fma((float)sumi, dw * dy, acc)), so every output equals ReferenceDot
// bit for bit, as the 512-bit tile's do. The transposition is the classic 8 x 8 dword one (unpack,
// shuffle, 128-bit permute). Below MinActivations, Block32Gemm256 (the single-row dot's order).
// Q4_0 and Q5_0 only (2.4-4.5x Block32Gemm256 here, KernelBench --gemm 256 with DOTNET_EnableAVX512=0):
// Q8_0's second plane keeps four more accumulators live than 16 registers hold, and measured 0.85x.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal static unsafe partial class Block32GemmLanes
{
    const int R8 = 8, Chunks8 = 256; // rows per 256-bit tile; bytes of one transposed block plane (8 x 8 x 4)

    public static bool Supported256 => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Rows at 256 bits (the signature of Rows); below MinActivations Block32Gemm256 of format TB.</summary>
    public static void Rows256<T, TB>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n)
        where T : ILanes32 where TB : IBlock32 =>
        Rows256<T, TB>(w, rb, rows, a, ab, na, y, ys, n, null);

    /// <summary>Rows256 with the activations already prepared (null: prepared here), as the 512-bit Rows.</summary>
    public static void Rows256<T, TB>(byte* w, long rb, int rows, byte* a, long ab, int na, float* y, int ys, int n, int* prepared)
        where T : ILanes32 where TB : IBlock32
    {
        if (na < MinActivations)
        {
            Block32Gemm256.Rows<TB>(w, rb, rows, a, ab, na, y, ys, n);
            return;
        }
        Run<T>(w, rb, rows, a, ab, na, y, ys, n, R8, &UnpackTile256<T>, &Tile256<T>, prepared);
    }

    static void UnpackTile256<T>(byte* w, long rb, int valid, int nb, byte* up, float* wd, byte* tmp) where T : ILanes32
    {
        uint* d = stackalloc uint[R8];
        for (int b = 0; b < nb; b++, wd += R8)
        {
            for (int r = 0; r < R8; r++)
            {
                byte* block = w + Math.Min(r, valid - 1) * rb + (long)b * T.BlockBytes;
                T.Unpack(block, tmp + 32 * r, Chunks8);
                d[r] = *(ushort*)block;
            }
            for (int k = 0; k < T.Planes; k++, up += Chunks8)
                Transpose8(tmp + k * Chunks8, up);
            QuantMath.HalfToFloat(Vector256.Load(d)).Store(wd);
        }
    }

    /// <summary>8 rows of 8 dwords (src, 32 bytes apart) to 8 vectors (dst): vector j, lane r = row r's dword j.</summary>
    static void Transpose8(byte* src, byte* dst)
    {
        float* s = (float*)src, o = (float*)dst;
        Vector256<float> r0 = Avx.LoadVector256(s), r1 = Avx.LoadVector256(s + 8), r2 = Avx.LoadVector256(s + 16), r3 = Avx.LoadVector256(s + 24);
        Vector256<float> r4 = Avx.LoadVector256(s + 32), r5 = Avx.LoadVector256(s + 40), r6 = Avx.LoadVector256(s + 48), r7 = Avx.LoadVector256(s + 56);
        // Pairs of rows interleaved, then quads, then the 128-bit halves exchanged.
        Vector256<float> u0 = Avx.UnpackLow(r0, r1), u1 = Avx.UnpackHigh(r0, r1), u2 = Avx.UnpackLow(r2, r3), u3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> u4 = Avx.UnpackLow(r4, r5), u5 = Avx.UnpackHigh(r4, r5), u6 = Avx.UnpackLow(r6, r7), u7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> v0 = Avx.Shuffle(u0, u2, 0x44), v1 = Avx.Shuffle(u0, u2, 0xEE), v2 = Avx.Shuffle(u1, u3, 0x44), v3 = Avx.Shuffle(u1, u3, 0xEE);
        Vector256<float> v4 = Avx.Shuffle(u4, u6, 0x44), v5 = Avx.Shuffle(u4, u6, 0xEE), v6 = Avx.Shuffle(u5, u7, 0x44), v7 = Avx.Shuffle(u5, u7, 0xEE);
        Avx.Store(o, Avx.Permute2x128(v0, v4, 0x20));
        Avx.Store(o + 8, Avx.Permute2x128(v1, v5, 0x20));
        Avx.Store(o + 16, Avx.Permute2x128(v2, v6, 0x20));
        Avx.Store(o + 24, Avx.Permute2x128(v3, v7, 0x20));
        Avx.Store(o + 32, Avx.Permute2x128(v0, v4, 0x31));
        Avx.Store(o + 40, Avx.Permute2x128(v1, v5, 0x31));
        Avx.Store(o + 48, Avx.Permute2x128(v2, v6, 0x31));
        Avx.Store(o + 56, Avx.Permute2x128(v3, v7, 0x31));
    }

    static void Tile256<T>(byte* up, float* wd, int nb, in Acts acts, float* y, int ys, int rows, int na) where T : ILanes32
    {
        byte* a0 = acts.A0 + 2, a1 = acts.A1 + 2, a2 = acts.A2 + 2, a3 = acts.A3 + 2;
        int* p0 = acts.P0, p1 = acts.P1, p2 = acts.P2, p3 = acts.P3;
        var one = Vector256<short>.One;
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int b = 0; b < nb; b++, up += T.Planes * Chunks8, wd += R8, a0 += YB, a1 += YB, a2 += YB, a3 += YB, p0 += 2, p1 += 2, p2 += 2, p3 += 2)
        {
            Vector256<short> s0 = default, s1 = default, s2 = default, s3 = default;
            Vector256<int> i0, i1, i2, i3;
            Four8(up, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
            if (T.Group == 4)
            {
                i0 = Avx2.MultiplyAddAdjacent(s0, one); i1 = Avx2.MultiplyAddAdjacent(s1, one);
                i2 = Avx2.MultiplyAddAdjacent(s2, one); i3 = Avx2.MultiplyAddAdjacent(s3, one);
                s0 = s1 = s2 = s3 = default;
                Four8(up + 128, a0 + 16, a1 + 16, a2 + 16, a3 + 16, ref s0, ref s1, ref s2, ref s3);
                i0 += Avx2.MultiplyAddAdjacent(s0, one); i1 += Avx2.MultiplyAddAdjacent(s1, one);
                i2 += Avx2.MultiplyAddAdjacent(s2, one); i3 += Avx2.MultiplyAddAdjacent(s3, one);
            }
            else
            {
                Four8(up + 128, a0 + 16, a1 + 16, a2 + 16, a3 + 16, ref s0, ref s1, ref s2, ref s3);
                var m = T.Planes == 2 ? Vector256.Create((short)16) : one;
                i0 = Avx2.MultiplyAddAdjacent(s0, m); i1 = Avx2.MultiplyAddAdjacent(s1, m);
                i2 = Avx2.MultiplyAddAdjacent(s2, m); i3 = Avx2.MultiplyAddAdjacent(s3, m);
                if (T.Planes == 2)
                {
                    s0 = s1 = s2 = s3 = default;
                    Four8(up + Chunks8, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
                    Four8(up + Chunks8 + 128, a0 + 16, a1 + 16, a2 + 16, a3 + 16, ref s0, ref s1, ref s2, ref s3);
                    i0 += Avx2.MultiplyAddAdjacent(s0, one); i1 += Avx2.MultiplyAddAdjacent(s1, one);
                    i2 += Avx2.MultiplyAddAdjacent(s2, one); i3 += Avx2.MultiplyAddAdjacent(s3, one);
                }
            }
            var dw = Avx.LoadVector256(wd);
            f0 = Finish8(i0, dw, p0, f0);
            f1 = Finish8(i1, dw, p1, f1);
            f2 = Finish8(i2, dw, p2, f2);
            f3 = Finish8(i3, dw, p3, f3);
        }
        var mask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(rows)).AsSingle();
        Avx.MaskStore(y, mask, f0);
        if (na > 1) Avx.MaskStore(y + ys, mask, f1);
        if (na > 2) Avx.MaskStore(y + 2L * ys, mask, f2);
        if (na > 3) Avx.MaskStore(y + 3L * ys, mask, f3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Finish8(Vector256<int> i, Vector256<float> dw, int* p, Vector256<float> f) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(i - Vector256.Create(p[1])), dw * Vector256.Create(*(float*)p), f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Four8(byte* u, byte* a0, byte* a1, byte* a2, byte* a3,
        ref Vector256<short> s0, ref Vector256<short> s1, ref Vector256<short> s2, ref Vector256<short> s3)
    {
        Chunk8(u, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
        Chunk8(u + 32, a0 + 4, a1 + 4, a2 + 4, a3 + 4, ref s0, ref s1, ref s2, ref s3);
        Chunk8(u + 64, a0 + 8, a1 + 8, a2 + 8, a3 + 8, ref s0, ref s1, ref s2, ref s3);
        Chunk8(u + 96, a0 + 12, a1 + 12, a2 + 12, a3 + 12, ref s0, ref s1, ref s2, ref s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Chunk8(byte* u, byte* a0, byte* a1, byte* a2, byte* a3,
        ref Vector256<short> s0, ref Vector256<short> s1, ref Vector256<short> s2, ref Vector256<short> s3)
    {
        var w = Vector256.Load(u);
        s0 += Avx2.MultiplyAddAdjacent(w, Vector256.Create(*(int*)a0).AsSByte());
        s1 += Avx2.MultiplyAddAdjacent(w, Vector256.Create(*(int*)a1).AsSByte());
        s2 += Avx2.MultiplyAddAdjacent(w, Vector256.Create(*(int*)a2).AsSByte());
        s3 += Avx2.MultiplyAddAdjacent(w, Vector256.Create(*(int*)a3).AsSByte());
    }
}
