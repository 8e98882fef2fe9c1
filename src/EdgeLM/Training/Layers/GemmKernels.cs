// The register-blocked micro-kernels of Gemm, one per CPU tier: a tile of MR = 6 output rows by NR
// columns lives in accumulators for a whole block of k; each step loads NR/width vectors of the packed B
// panel once and broadcasts one A value per row, so every load feeds 2 (V512, V256) fused multiply-adds.
// 6 × 2 vectors = 12 accumulators + 2 B vectors + 1 broadcast fit the 16 registers of AVX2 (and leave
// room in AVX-512's 32). Not general kernels: pointers are pinned by the caller, A rows may have any
// stride (A is read in place), B is a packed panel (kc rows of NR contiguous floats). The plain loop is
// the fallback when no vector tier is accelerated and the oracle of the others in tests.
// Follows the BLIS / GotoBLAS macro-kernel / micro-kernel split (Van Zee & van de Geijn, 2015).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeLM.Training.Layers;

/// <summary>The instruction tiers of <see cref="Gemm"/>; tests force each one.</summary>
public enum GemmTier
{
    Scalar,
    Vector256,
    Vector512,
}

static unsafe class GemmKernels
{
    /// <summary>Rows of A per micro-tile.</summary>
    public const int MR = 6;

    /// <summary>Columns per micro-tile (= width of a packed B panel) of each tier.</summary>
    public static int NR(GemmTier tier) => tier switch
    {
        GemmTier.Vector512 => 32,
        GemmTier.Vector256 => 16,
        _ => 8,
    };

    /// <summary>c (6 × NR, row stride ldc) = (add ? c : 0) + Σk A[i, k] · panel[k, :] for k &lt; kc,
    /// A[i, k] at a[i·aRow + k·aCol].</summary>
    public static void Tile(GemmTier tier, float* a, long aRow, long aCol, float* panel, int kc, float* c, long ldc, bool add)
    {
        switch (tier)
        {
            case GemmTier.Vector512: Tile512(a, aRow, aCol, panel, kc, c, ldc, add); break;
            case GemmTier.Vector256: Tile256(a, aRow, aCol, panel, kc, c, ldc, add); break;
            default: TileScalar(a, aRow, aCol, panel, kc, c, ldc, add); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile512(float* a, long aRow, long aCol, float* b, int kc, float* c, long ldc, bool add)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a + aRow, a2 = a1 + aRow, a3 = a2 + aRow, a4 = a3 + aRow, a5 = a4 + aRow;
        for (int k = 0; k < kc; k++, b += 32)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(*a0); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(*a1); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(*a2); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(*a3); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(*a4); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(*a5); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            a0 += aCol; a1 += aCol; a2 += aCol; a3 += aCol; a4 += aCol; a5 += aCol;
        }
        Store512(c, c00, c01, add); Store512(c + ldc, c10, c11, add); Store512(c + 2 * ldc, c20, c21, add);
        Store512(c + 3 * ldc, c30, c31, add); Store512(c + 4 * ldc, c40, c41, add); Store512(c + 5 * ldc, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store512(float* c, Vector512<float> v0, Vector512<float> v1, bool add)
    {
        if (add)
        {
            v0 += Vector512.Load(c);
            v1 += Vector512.Load(c + 16);
        }
        Vector512.Store(v0, c);
        Vector512.Store(v1, c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile256(float* a, long aRow, long aCol, float* b, int kc, float* c, long ldc, bool add)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a + aRow, a2 = a1 + aRow, a3 = a2 + aRow, a4 = a3 + aRow, a5 = a4 + aRow;
        for (int k = 0; k < kc; k++, b += 16)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(*a0); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(*a1); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(*a2); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(*a3); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(*a4); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(*a5); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a0 += aCol; a1 += aCol; a2 += aCol; a3 += aCol; a4 += aCol; a5 += aCol;
        }
        Store256(c, c00, c01, add); Store256(c + ldc, c10, c11, add); Store256(c + 2 * ldc, c20, c21, add);
        Store256(c + 3 * ldc, c30, c31, add); Store256(c + 4 * ldc, c40, c41, add); Store256(c + 5 * ldc, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store256(float* c, Vector256<float> v0, Vector256<float> v1, bool add)
    {
        if (add)
        {
            v0 += Vector256.Load(c);
            v1 += Vector256.Load(c + 8);
        }
        Vector256.Store(v0, c);
        Vector256.Store(v1, c + 8);
    }

    /// <summary>The plain loop: accumulates in a 6 × 8 block on the stack, in the same k order as the vector tiers.</summary>
    static void TileScalar(float* a, long aRow, long aCol, float* b, int kc, float* c, long ldc, bool add)
    {
        const int W = 8;
        float* acc = stackalloc float[MR * W];
        new Span<float>(acc, MR * W).Clear();
        for (int k = 0; k < kc; k++, b += W)
            for (int i = 0; i < MR; i++)
            {
                float x = a[i * aRow + k * aCol];
                for (int j = 0; j < W; j++) acc[i * W + j] += x * b[j];
            }
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < W; j++) c[i * ldc + j] = (add ? c[i * ldc + j] : 0f) + acc[i * W + j];
    }
}
