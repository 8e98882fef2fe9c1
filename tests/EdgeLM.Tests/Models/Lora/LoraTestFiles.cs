// Random LoRA adapters for random base models, written as llama.cpp GGUF adapters (with GgufWriter)
// and as PEFT folders (adapter_config.json + adapter_model.safetensors), and the engine run with them.
using System.Globalization;
using EdgeLM.Formats.Gguf;
using EdgeLM.Formats.HuggingFace;
using EdgeLM.Formats.Safetensors;
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tensors;

namespace EdgeLM.Tests.Models.Lora;

public static class LoraTestFiles
{
    /// <summary>Every matrix a layer has, plus the output head when the model has its own.</summary>
    public static readonly string[] AllTargets = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "output"];

    /// <summary>A random adapter for <paramref name="s"/>: A and B Gaussian (B not zero, unlike a fresh
    /// PEFT init), sized so the adapter moves logits clearly without swamping the base.</summary>
    public static LoraAdapter Random(RandomModelShape s, int rank, float alpha, int seed, params string[] targets)
    {
        if (targets.Length == 0) targets = AllTargets;
        var rng = new Random(seed);
        int q = s.Heads * s.HeadDim, kv = s.KvHeads * s.HeadDim;
        var list = new List<LoraTensor>();
        foreach (var tgt in targets)
        {
            if (tgt == "output") { list.Add(Tensor("output.weight", s.Dim, s.Vocab, rank, rng)); continue; }
            var (inDim, outDim) = tgt switch
            {
                "attn_q" => (s.Dim, q),
                "attn_k" => (s.Dim, kv),
                "attn_v" => (s.Dim, kv),
                "attn_output" => (q, s.Dim),
                "ffn_gate" or "ffn_up" => (s.Dim, s.Ffn),
                "ffn_down" => (s.Ffn, s.Dim),
                _ => throw new ArgumentException(tgt),
            };
            for (int l = 0; l < s.Layers; l++) list.Add(Tensor($"blk.{l}.{tgt}.weight", inDim, outDim, rank, rng));
        }
        return new LoraAdapter(s.Arch, alpha, list);
    }

    static LoraTensor Tensor(string target, int inDim, int outDim, int rank, Random rng) =>
        new(target, rank, inDim, outDim, Gauss(rank * inDim, 1f / MathF.Sqrt(inDim), rng), Gauss(outDim * rank, 0.3f, rng));

    static float[] Gauss(int n, float std, Random rng)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = std * MathF.Sqrt(-2f * MathF.Log(1f - rng.NextSingle())) * MathF.Cos(2f * MathF.PI * rng.NextSingle());
        return v;
    }

    /// <summary>The adapter as llama.cpp's convert_lora_to_gguf.py writes it (F32 factors).</summary>
    public static void WriteGguf(LoraAdapter a, string path, Action<GgufWriter>? edit = null)
    {
        var w = new GgufWriter();
        w.Set("general.architecture", a.Architecture).Set("general.type", "adapter")
         .Set("adapter.type", "lora").Set("adapter.lora.alpha", a.Alpha);
        foreach (var t in a.Tensors)
        {
            w.AddTensor(t.Target + ".lora_a", t.A, t.In, t.Rank);
            w.AddTensor(t.Target + ".lora_b", t.B, t.Rank, t.Out);
        }
        edit?.Invoke(w);
        w.Write(path);
    }

    /// <summary>The adapter as a PEFT folder. For a llama base, q/k lora_B rows go back to Hugging Face
    /// (rotate-half) order by un-doing the interleave within each head: GGUF row 2i + j of a head of
    /// D rows is HF row j·D/2 + i, written out here from the definition rather than through the product's helper.</summary>
    public static void WritePeft(LoraAdapter a, string dir, RandomModelShape s, GgmlType type = GgmlType.F32)
    {
        Directory.CreateDirectory(dir);
        var modules = new SortedSet<string>(StringComparer.Ordinal);
        var st = new SafetensorsWriter();
        foreach (var t in a.Tensors)
        {
            string hf = HfTensorNames.ToHf(t.Target, s.Layers)!;
            string stem = "base_model.model." + hf[..^".weight".Length];
            modules.Add(stem[(stem.LastIndexOf('.') + 1)..]);
            var b = t.B;
            int heads = s.Arch != "llama" ? 0 : t.Target.EndsWith("attn_q.weight", StringComparison.Ordinal) ? s.Heads
                : t.Target.EndsWith("attn_k.weight", StringComparison.Ordinal) ? s.KvHeads : 0;
            if (heads > 0) b = ToRotateHalf(b, t.Out, t.Rank, heads);
            AddTensor(st, stem + ".lora_A.weight", t.A, [t.Rank, t.In], type);
            AddTensor(st, stem + ".lora_B.weight", b, [t.Out, t.Rank], type);
        }
        st.Write(Path.Combine(dir, "adapter_model.safetensors"));
        string alpha = a.Alpha.ToString("R", CultureInfo.InvariantCulture);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"),
            $$"""{"peft_type": "LORA", "r": {{a.Tensors[0].Rank}}, "lora_alpha": {{alpha}}, "target_modules": ["{{string.Join("\", \"", modules)}}"], "bias": "none", "fan_in_fan_out": false}""");
    }

    static void AddTensor(SafetensorsWriter st, string name, float[] data, long[] shape, GgmlType type)
    {
        if (type == GgmlType.F32) { st.AddTensor(name, data, shape); return; }
        st.AddTensor(name, type, shape, stream =>
        {
            var bytes = new byte[GgmlTypes.RowBytes(type, data.Length)];
            EdgeLM.Quantization.QuantKernels.QuantizeReference(type, data, bytes);
            stream.Write(bytes);
        });
    }

    static float[] ToRotateHalf(float[] b, int rows, int cols, int heads)
    {
        var o = new float[b.Length];
        int D = rows / heads;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < D / 2; i++)
                for (int j = 0; j < 2; j++)
                    b.AsSpan((h * D + 2 * i + j) * cols, cols).CopyTo(o.AsSpan((h * D + j * (D / 2) + i) * cols, cols));
        return o;
    }

    /// <summary>Engine logits (T, V) for tokens with these adapters applied, fed in micro-batches of maxBatch.</summary>
    public static float[][] Logits(string basePath, IReadOnlyList<ScaledLora> adapters, IReadOnlyList<int> tokens, int maxBatch = 64)
    {
        using var model = DecoderModel.Load(ModelSources.Open(basePath));
        model.UseAdapters(adapters);
        return Logits(model, tokens, maxBatch);
    }

    public static float[][] Logits(DecoderModel model, IReadOnlyList<int> tokens, int maxBatch = 64) =>
        EngineHarness.Logits(model, tokens, maxBatch: maxBatch);

    public static ScaledLora[] One(LoraAdapter a, float scale = 1f, string path = "test-adapter") => [new ScaledLora(a, scale, path)];
}
