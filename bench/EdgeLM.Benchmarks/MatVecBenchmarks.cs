// One question: how fast is y = W·x for one activation row (a decode step's matrix-vector product)
// per tensor type, at the model widths that occur (896: Qwen2.5-0.5B hidden, 2048: Llama-3.2-1B
// hidden, 4864 / 8192: their FFN widths)? Engine: QuantKernels.VecDotRows on one thread over 1024
// rows, and (Repacked) the product over the layout a model gets at load (DecodeRepack: sixteen-row
// groups; where the type or width has none on this CPU, the same mapped path again). Baseline: the
// plain reference, each row dequantized and dotted in a scalar loop. Only the types QuantKernels can
// quantize today are listed; the others join by themselves once they can.
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Benchmarks;

[MemoryDiagnoser]
public unsafe class MatVecBenchmarks
{
    const int Rows = 1024;
    byte* _w;
    byte* _packed;
    long _rowBytes;
    byte[] _x = [];
    float[] _xf = [];
    float[] _row = [];
    float[] _y = new float[Rows];

    [Params(896, 2048, 4864, 8192)]
    public int Cols { get; set; }

    [ParamsSource(nameof(Types))]
    public GgmlType Type { get; set; }

    /// <summary>The storage types whose quantize and dot product are implemented now.</summary>
    public static IEnumerable<GgmlType> Types()
    {
        GgmlType[] wanted = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];
        var probe = new float[GgmlTypes.QK_K];
        foreach (var t in wanted)
        {
            bool ok;
            try
            {
                QuantKernels.Quantize(t, probe, new byte[GgmlTypes.RowBytes(t, probe.Length)]);
                QuantKernels.VecDotType(t);
                ok = true;
            }
            catch (NotSupportedException)
            {
                ok = false;
            }
            if (ok) yield return t;
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _rowBytes = GgmlTypes.RowBytes(Type, Cols);
        _w = (byte*)NativeMemory.AlignedAlloc((nuint)(_rowBytes * Rows), 64);
        var row = new float[Cols];
        for (int r = 0; r < Rows; r++)
        {
            for (int i = 0; i < Cols; i++) row[i] = rng.NextSingle() * 2 - 1;
            QuantKernels.Quantize(Type, row, new Span<byte>(_w + r * _rowBytes, (int)_rowBytes));
        }
        _xf = new float[Cols];
        for (int i = 0; i < Cols; i++) _xf[i] = rng.NextSingle() * 2 - 1;
        var vt = QuantKernels.VecDotType(Type);
        _x = new byte[GgmlTypes.RowBytes(vt, Cols)];
        QuantKernels.Quantize(vt, _xf, _x);
        _row = new float[Cols];
        if (DecodeRepack.CanRepack(Type, Cols)) _packed = DecodeRepack.Create(Type, _w, _rowBytes, Rows, Cols);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_w);
        if (_packed != null) DecodeRepack.Free(_packed);
        _packed = null;
    }

    [Benchmark(Baseline = true)]
    public float Reference()
    {
        for (int r = 0; r < Rows; r++)
        {
            QuantKernels.Dequantize(Type, new ReadOnlySpan<byte>(_w + r * _rowBytes, (int)_rowBytes), _row);
            float sum = 0;
            for (int i = 0; i < _row.Length; i++) sum += _row[i] * _xf[i];
            _y[r] = sum;
        }
        return _y[0];
    }

    [Benchmark]
    public float VecDotRows()
    {
        QuantKernels.VecDotRows(Type, _w, _rowBytes, 0, Rows, _x, _y, Cols);
        return _y[0];
    }

    [Benchmark]
    public float Repacked()
    {
        if (_packed == null) return VecDotRows();
        fixed (byte* x = _x)
        fixed (float* y = _y) DecodeRepack.Rows(Type, _packed, Rows, Cols, 0, Rows, x, y);
        return _y[0];
    }
}
