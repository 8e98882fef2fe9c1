// llama.cpp's CPU dot products (ggml_get_type_traits_cpu(type)->vec_dot) from the AVX-512 build that
// LLamaSharp.Backend.Cpu ships, called row by row as ggml's mul_mat does for one activation row.
// Benchmark-only: the product never loads native code. Follows tests/EdgeLM.Tests/Support/GgmlNative.cs.
using System.Runtime.InteropServices;
using EdgeLM.Tensors;

namespace EdgeLM.KernelBench;

internal static unsafe class GgmlDots
{
    [StructLayout(LayoutKind.Sequential)]
    struct TypeTraitsCpu
    {
        public delegate* unmanaged<float*, void*, long, void> FromFloat;
        public delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> VecDot;
        public int VecDotType;
        public long NRows;
    }

    static readonly Lazy<nint> Cpu = new(Load);

    static string Dir => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx512");

    public static bool Available =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64
        && File.Exists(Path.Combine(Dir, "libggml-cpu.so"));

    static nint Load()
    {
        NativeLibrary.Load(Path.Combine(Dir, "libggml-base.so"));
        nint c = NativeLibrary.Load(Path.Combine(Dir, "libggml-cpu.so"));
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(c, "ggml_cpu_init"))();
        return c;
    }

    static TypeTraitsCpu* Traits(GgmlType type) =>
        ((delegate* unmanaged<int, TypeTraitsCpu*>)NativeLibrary.GetExport(Cpu.Value, "ggml_get_type_traits_cpu"))((int)type);

    public static GgmlType VecDotType(GgmlType type) => (GgmlType)Traits(type)->VecDotType;

    /// <summary>y[r] = vec_dot(W[r], x) for every row, one native call per row.</summary>
    public static void Rows(GgmlType type, byte* w, long rowBytes, int rows, byte* x, float* y, int n)
    {
        var dot = Traits(type)->VecDot;
        for (int r = 0; r < rows; r++, w += rowBytes) dot(n, y + r, 0, w, 0, x, 0, 1);
    }
}
