// What the kernels run on: the widest vector instruction set the runtime lets them use (switched off
// by DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 or DOTNET_EnableHWIntrinsic=0).
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Kernels;

public static class Cpu
{
    /// <summary>avx512, avx2, neon, vector128 or scalar.</summary>
    public static string InstructionSet =>
        Vector512.IsHardwareAccelerated && Avx512BW.IsSupported ? "avx512"
        : Vector256.IsHardwareAccelerated && Avx2.IsSupported ? "avx2"
        : AdvSimd.IsSupported ? "neon"
        : Vector128.IsHardwareAccelerated ? "vector128"
        : "scalar";
}
