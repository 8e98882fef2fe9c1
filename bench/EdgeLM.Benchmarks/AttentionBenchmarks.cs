// One question: what does one decode step's attention cost (one query token against every cached
// position, all heads, one thread) with Qwen2.5-0.5B's heads (14 query / 2 KV, head size 64) and
// Llama-3.2-1B's (32 / 8 / 64), over 512 and 2048 cached positions? Engine: Models.Attention on a
// one-layer random model's state. Baseline: a plain scalar loop (scores, softmax, weighted sum).
using BenchmarkDotNet.Attributes;
using EdgeLM.Formats.Gguf;
using EdgeLM.Kernels;
using EdgeLM.Models;

namespace EdgeLM.Benchmarks;

public unsafe class AttentionBenchmarks
{
    readonly Attention _attention = new();
    string _dir = "";
    DecoderModel? _model;
    WorkerPool? _pool;
    DecoderState? _s;
    float[] _scores = [];

    [Params("qwen2.5-0.5b", "llama-3.2-1b")]
    public string Heads { get; set; } = "";

    [Params(512, 2048)]
    public int Positions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var shape = Heads == "qwen2.5-0.5b"
            ? new RandomModelShape("qwen2", Dim: 896, Layers: 1, Heads: 14, KvHeads: 2, HeadDim: 64, Ffn: 256, Vocab: 300, Context: 4096)
            : new RandomModelShape("llama", Dim: 2048, Layers: 1, Heads: 32, KvHeads: 8, HeadDim: 64, Ffn: 256, Vocab: 300, Context: 4096);
        _dir = Path.Combine(Path.GetTempPath(), "edgelm-attn-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "m.gguf");
        RandomModel.Write(path, shape);
        _model = DecoderModel.Load(GgufModelSource.Open(path));
        _pool = new WorkerPool(1);
        _s = new DecoderState(_model.Config, _model.Weights, Positions, 1, _pool, EdgeLM.Tensors.GgmlType.F32, EdgeLM.Tensors.GgmlType.F32);
        var rng = new Random(1);
        var c = _model.Config;
        long n = (long)Positions * c.KvDim;
        for (long i = 0; i < n; i++)
        {
            ((float*)_s.Cache.Keys(0))[i] = rng.NextSingle() * 2 - 1;
            ((float*)_s.Cache.Values(0))[i] = rng.NextSingle() * 2 - 1;
        }
        for (int i = 0; i < c.QueryDim; i++) _s.Q[i] = rng.NextSingle() * 2 - 1;
        _scores = new float[Positions];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _s?.Dispose();
        _pool?.Dispose();
        _model?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public float Reference()
    {
        var s = _s!;
        var c = s.Config;
        int D = c.HeadDim, group = c.HeadCount / c.HeadCountKv, n = Positions;
        float scale = 1.0f / MathF.Sqrt(D);
        float* keys = (float*)s.Cache.Keys(0), values = (float*)s.Cache.Values(0);
        for (int h = 0; h < c.HeadCount; h++)
        {
            int kv = h / group * D;
            float max = float.NegativeInfinity;
            for (int p = 0; p < n; p++)
            {
                float dot = 0;
                for (int i = 0; i < D; i++) dot += s.Q[h * D + i] * keys[(long)p * c.KvDim + kv + i];
                _scores[p] = dot * scale;
                max = MathF.Max(max, _scores[p]);
            }
            float sum = 0;
            for (int p = 0; p < n; p++) { _scores[p] = MathF.Exp(_scores[p] - max); sum += _scores[p]; }
            for (int i = 0; i < D; i++)
            {
                float o = 0;
                for (int p = 0; p < n; p++) o += _scores[p] * values[(long)p * c.KvDim + kv + i];
                s.AttnOut[h * D + i] = o / sum;
            }
        }
        return s.AttnOut[0];
    }

    [Benchmark]
    public float Engine()
    {
        _attention.Run(_s!, 0, Positions - 1, 1);
        return _s!.AttnOut[0];
    }
}

// One question: what does a prompt micro-batch's attention cost (256 tokens after 256 cached, over an F16
// cache as the engine keeps it by default) in token blocks against the per-token kernels, on one and two
// threads? Same heads as above. Baseline: the per-token kernels (Attention with Blocks = false).
public unsafe class PrefillAttentionBenchmarks
{
    const int T = 256, Pos0 = 256;
    readonly Attention _perToken = new() { Blocks = false };
    readonly Attention _blocks = new();
    string _dir = "";
    DecoderModel? _model;
    WorkerPool? _pool;
    DecoderState? _s;

    [Params("qwen2.5-0.5b", "llama-3.2-1b")]
    public string Heads { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var shape = Heads == "qwen2.5-0.5b"
            ? new RandomModelShape("qwen2", Dim: 896, Layers: 1, Heads: 14, KvHeads: 2, HeadDim: 64, Ffn: 256, Vocab: 300, Context: 4096)
            : new RandomModelShape("llama", Dim: 2048, Layers: 1, Heads: 32, KvHeads: 8, HeadDim: 64, Ffn: 256, Vocab: 300, Context: 4096);
        _dir = Path.Combine(Path.GetTempPath(), "edgelm-prefill-attn-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "m.gguf");
        RandomModel.Write(path, shape);
        _model = DecoderModel.Load(GgufModelSource.Open(path));
        _pool = new WorkerPool(Threads);
        var c = _model.Config;
        _s = new DecoderState(c, _model.Weights, Pos0 + T, T, _pool);
        var rng = new Random(1);
        var k = new float[(Pos0 + T) * c.KvDim];
        var v = new float[k.Length];
        for (int i = 0; i < k.Length; i++) (k[i], v[i]) = (rng.NextSingle() * 2 - 1, rng.NextSingle() * 2 - 1);
        _s.Cache.Store(0, 0, Pos0 + T, k, v);
        for (int i = 0; i < T * c.QueryDim; i++) _s.Q[i] = rng.NextSingle() * 2 - 1;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _s?.Dispose();
        _pool?.Dispose();
        _model?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public float PerToken()
    {
        _perToken.Run(_s!, 0, Pos0, T);
        return _s!.AttnOut[0];
    }

    [Benchmark]
    public float Blocks()
    {
        _blocks.Run(_s!, 0, Pos0, T);
        return _s!.AttnOut[0];
    }
}
