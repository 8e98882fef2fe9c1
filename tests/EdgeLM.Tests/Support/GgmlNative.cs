// Direct calls into the ggml libraries LLamaSharp.Backend.Cpu ships (the AVX-512 build of llama.cpp
// this repository compares against): the quantizer llama_model_quantize runs per tensor
// (ggml_quantize_chunk), the dequantizers, and the CPU backend's activation converters and dot
// products (ggml_get_type_traits_cpu). Test-only; the product never loads native code.
using System.Runtime.InteropServices;
using EdgeLM.Tensors;

namespace EdgeLM.Tests.Support;

public static unsafe class GgmlNative
{
    [StructLayout(LayoutKind.Sequential)]
    struct TypeTraitsCpu
    {
        public delegate* unmanaged<float*, void*, long, void> FromFloat;
        public delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> VecDot;
        public int VecDotType;
        public long NRows;
    }

    static readonly Lazy<(nint Base, nint Cpu)> Libs = new(Load);

    static (nint, nint) Load()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx512");
        nint b = NativeLibrary.Load(Path.Combine(dir, "libggml-base.so"));
        nint c = NativeLibrary.Load(Path.Combine(dir, "libggml-cpu.so"));
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(c, "ggml_cpu_init"))();
        return (b, c);
    }

    /// <summary>True on Linux x64 where the AVX-512 build is deployed (the machines ORACLE.md
    /// describes). Not tied to the runtime's own instruction-set switches, so the oracle still runs
    /// when tests are repeated with DOTNET_EnableAVX512=0 and the like.</summary>
    public static bool Available =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64
        && File.Exists(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx512", "libggml-cpu.so"));

    /// <summary>ggml_quantize_chunk without an importance matrix: what llama.cpp writes to model files.</summary>
    public static byte[] QuantizeChunk(GgmlType type, float[] src, int nrows, int nPerRow)
    {
        var f = (delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint>)NativeLibrary.GetExport(Libs.Value.Base, "ggml_quantize_chunk");
        var dst = new byte[GgmlTypes.RowBytes(type, nPerRow) * nrows];
        fixed (float* s = src)
        fixed (byte* d = dst) f((int)type, s, d, 0, nrows, nPerRow, null);
        return dst;
    }

    /// <summary>dequantize_row_* (or the F16/BF16 row converters) from ggml-base.</summary>
    public static float[] Dequantize(GgmlType type, byte[] src, int n)
    {
        string name = type switch
        {
            GgmlType.F16 => "ggml_fp16_to_fp32_row",
            GgmlType.BF16 => "ggml_bf16_to_fp32_row",
            _ => "dequantize_row_" + type.ToString().ToLowerInvariant().Replace("_k", "_K"),
        };
        var f = (delegate* unmanaged<void*, float*, long, void>)NativeLibrary.GetExport(Libs.Value.Base, name);
        var dst = new float[n];
        fixed (byte* s = src)
        fixed (float* d = dst) f(s, d, n);
        return dst;
    }

    static TypeTraitsCpu* Traits(GgmlType type) =>
        ((delegate* unmanaged<int, TypeTraitsCpu*>)NativeLibrary.GetExport(Libs.Value.Cpu, "ggml_get_type_traits_cpu"))((int)type);

    public static GgmlType VecDotType(GgmlType type) => (GgmlType)Traits(type)->VecDotType;

    /// <summary>The CPU backend's from_float for <paramref name="type"/> (activation quantization).</summary>
    public static byte[] FromFloat(GgmlType type, float[] src)
    {
        var dst = new byte[GgmlTypes.RowBytes(type, src.Length)];
        fixed (float* s = src)
        fixed (byte* d = dst) Traits(type)->FromFloat(s, d, src.Length);
        return dst;
    }

    /// <summary>The CPU backend's vec_dot for weights of <paramref name="type"/>.</summary>
    public static float VecDot(GgmlType type, byte[] w, byte[] a, int n)
    {
        float s;
        fixed (byte* x = w)
        fixed (byte* y = a) Traits(type)->VecDot(n, &s, 0, x, 0, y, 0, 1);
        return s;
    }
}
