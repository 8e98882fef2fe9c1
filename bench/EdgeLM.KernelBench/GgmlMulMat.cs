// llama.cpp's whole matrix multiply (ggml_mul_mat computed by the CPU backend, which takes llamafile's
// tiled sgemm where it applies and the per-pair vec_dot otherwise) from the AVX-512 build that
// LLamaSharp.Backend.Cpu ships: one context holding W (rows, cols) in its type and x (T, cols) in F32,
// one graph y = W·x computed on request. Its time includes quantizing x to the vec_dot type.
// Benchmark-only: the product never loads native code. API as in ggml.h / ggml-cpu.h of that build.
using System.Runtime.InteropServices;
using EdgeLM.Tensors;

namespace EdgeLM.KernelBench;

internal sealed unsafe class GgmlMulMat : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    struct InitParams
    {
        public nuint MemSize;
        public void* MemBuffer;
        public byte NoAlloc;
    }

    static readonly Lazy<(nint Base, nint Cpu)> Libs = new(() =>
    {
        GgmlDots.VecDotType(GgmlType.Q8_0); // loads and initialises both libraries
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx512");
        return (NativeLibrary.Load(Path.Combine(dir, "libggml-base.so")), NativeLibrary.Load(Path.Combine(dir, "libggml-cpu.so")));
    });

    readonly nint _ctx, _graph;
    readonly float* _x, _y;
    readonly int _threads;

    /// <summary>w: rows x rowBytes in <paramref name="type"/>; x (T, cols) is set with <see cref="SetInput"/>.</summary>
    public GgmlMulMat(GgmlType type, byte* w, int rows, int cols, int T, int threads)
    {
        var (b, _) = Libs.Value;
        long wBytes = GgmlTypes.RowBytes(type, cols) * rows;
        // Tensors, graph, and the work buffer ggml_graph_compute_with_ctx takes from the context
        // (x quantized, plus per-thread padding): generous, it is only reserved address space.
        var p = new InitParams { MemSize = (nuint)(wBytes + 8L * T * cols + 4L * T * rows + (64 << 20)), MemBuffer = null, NoAlloc = 0 };
        _ctx = ((delegate* unmanaged<InitParams, nint>)Fn(b, "ggml_init"))(p);
        if (_ctx == 0) throw new InvalidOperationException("ggml_init failed");
        var new2d = (delegate* unmanaged<nint, int, long, long, nint>)Fn(b, "ggml_new_tensor_2d");
        var data = (delegate* unmanaged<nint, void*>)Fn(b, "ggml_get_data");
        nint tw = new2d(_ctx, (int)type, cols, rows), tx = new2d(_ctx, (int)GgmlType.F32, cols, T);
        Buffer.MemoryCopy(w, data(tw), wBytes, wBytes);
        nint ty = ((delegate* unmanaged<nint, nint, nint, nint>)Fn(b, "ggml_mul_mat"))(_ctx, tw, tx);
        _graph = ((delegate* unmanaged<nint, nint>)Fn(b, "ggml_new_graph"))(_ctx);
        ((delegate* unmanaged<nint, nint, void>)Fn(b, "ggml_build_forward_expand"))(_graph, ty);
        _x = (float*)data(tx);
        _y = (float*)data(ty);
        _threads = threads;
    }

    public void SetInput(ReadOnlySpan<float> x) => x.CopyTo(new Span<float>(_x, x.Length));

    /// <summary>y (T, rows) = x · Wᵀ.</summary>
    public void Compute()
    {
        int status = ((delegate* unmanaged<nint, nint, int, int>)Fn(Libs.Value.Cpu, "ggml_graph_compute_with_ctx"))(_ctx, _graph, _threads);
        if (status != 0) throw new InvalidOperationException($"ggml_graph_compute_with_ctx returned {status}");
    }

    public ReadOnlySpan<float> Output(int length) => new(_y, length);

    public void Dispose() => ((delegate* unmanaged<nint, void>)Fn(Libs.Value.Base, "ggml_free"))(_ctx);

    static nint Fn(nint lib, string name) => NativeLibrary.GetExport(lib, name);
}
