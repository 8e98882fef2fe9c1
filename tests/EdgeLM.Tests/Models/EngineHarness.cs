// Runs the engine's decoder directly on token ids, for comparisons with llama.cpp.
using EdgeLM.Formats.Gguf;
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Tensors;

namespace EdgeLM.Tests.Models;

public static class EngineHarness
{
    /// <summary>Logits of every position; the KV cache is F32 unless given, as the oracle keeps it.</summary>
    public static float[][] Logits(string path, IReadOnlyList<int> tokens, int threads = 2, int maxBatch = 64,
        GgmlType kvType = GgmlType.F32, int context = 256)
    {
        using var model = DecoderModel.Load(ModelSources.Open(path));
        return Logits(model, tokens, threads, maxBatch, kvType, context);
    }

    /// <summary>The same for a model already loaded (with adapters, say).</summary>
    public static float[][] Logits(DecoderModel model, IReadOnlyList<int> tokens, int threads = 2, int maxBatch = 64,
        GgmlType kvType = GgmlType.F32, int context = 256)
    {
        using var pool = new WorkerPool(threads);
        using var s = new DecoderState(model.Config, model.Weights, context, maxBatch, pool, kvType, kvType);
        int V = model.Config.VocabSize;
        var all = new float[maxBatch * V];
        var result = new List<float[]>();
        var ids = tokens.ToArray();
        for (int i = 0; i < ids.Length; i += maxBatch)
        {
            int T = Math.Min(maxBatch, ids.Length - i);
            model.Forward(s, ids.AsSpan(i, T), all);
            for (int t = 0; t < T; t++) result.Add(all.AsSpan(t * V, V).ToArray());
        }
        return [.. result];
    }

    public static int[] Greedy(string path, IReadOnlyList<int> prompt, int n, int threads = 2)
    {
        using var model = DecoderModel.Load(ModelSources.Open(path));
        using var pool = new WorkerPool(threads);
        using var s = new DecoderState(model.Config, model.Weights, 256, 64, pool, GgmlType.F32, GgmlType.F32);
        model.Forward(s, prompt.ToArray());
        var output = new int[n];
        for (int k = 0; k < n; k++)
        {
            output[k] = ArgMax(s.Logits);
            model.Forward(s, [output[k]]);
        }
        return output;
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>Largest |a - b| over all positions, with where it is; for failure messages.</summary>
    public static (float MaxDiff, int Pos, int Index, float Scale) Compare(float[][] a, float[][] b)
    {
        float max = 0, scale = 0;
        int pos = -1, idx = -1;
        for (int t = 0; t < a.Length; t++)
        {
            for (int i = 0; i < a[t].Length; i++)
            {
                if (!float.IsFinite(a[t][i]) || !float.IsFinite(b[t][i]))
                    throw new Xunit.Sdk.XunitException($"logit {i} at position {t} is not finite: {a[t][i]} vs {b[t][i]}");
                scale = Math.Max(scale, Math.Abs(b[t][i]));
                float d = Math.Abs(a[t][i] - b[t][i]);
                if (d > max) (max, pos, idx) = (d, t, i);
            }
        }
        return (max, pos, idx, scale);
    }
}
