// One question: what does the vectorised RMSNorm cost per row at the model widths, against the
// scalar reference (Norm.RmsNormReference, which sums in double as ggml does)?
using BenchmarkDotNet.Attributes;
using EdgeLM.Kernels;

namespace EdgeLM.Benchmarks;

public class RmsNormBenchmarks
{
    float[] _x = [], _w = [], _y = [];

    [Params(896, 2048, 4864, 8192)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _x = new float[N];
        _w = new float[N];
        _y = new float[N];
        for (int i = 0; i < N; i++) { _x[i] = rng.NextSingle() * 2 - 1; _w[i] = 1 + rng.NextSingle() * 0.1f; }
    }

    [Benchmark(Baseline = true)]
    public float Reference()
    {
        Norm.RmsNormReference(_y, _x, _w, 1e-6f);
        return _y[0];
    }

    [Benchmark]
    public float RmsNorm()
    {
        Norm.RmsNorm(_y, _x, _w, 1e-6f);
        return _y[0];
    }
}
