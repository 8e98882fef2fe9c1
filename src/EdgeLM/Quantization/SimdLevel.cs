// Which vector width a kernel may use. The best level is fixed at startup from the CPU; tests pass
// lower levels explicitly so every path runs in one process (no global switch to race on).
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

internal enum SimdLevel
{
    Scalar = 0,
    Vector128 = 128,
    Vector256 = 256,
    Vector512 = 512,
}

internal static class Simd
{
    /// <summary>The widest level this CPU runs natively: 512 needs AVX-512BW (byte ops), 256 needs
    /// AVX2 (integer ops); Vector128 is the portable tier (SSE/NEON).</summary>
    public static readonly SimdLevel Best =
        Vector512.IsHardwareAccelerated && Avx512BW.IsSupported ? SimdLevel.Vector512
        : Vector256.IsHardwareAccelerated && Avx2.IsSupported ? SimdLevel.Vector256
        : Vector128.IsHardwareAccelerated ? SimdLevel.Vector128
        : SimdLevel.Scalar;

    /// <summary>Levels available here, lowest first (for tests).</summary>
    public static IEnumerable<SimdLevel> Available()
    {
        foreach (var l in new[] { SimdLevel.Scalar, SimdLevel.Vector128, SimdLevel.Vector256, SimdLevel.Vector512 })
            if (l <= Best) yield return l;
    }
}
