// The engine side of LoRA: any number of adapters applied on top of the base weights without merging
// them, as llama.cpp's build_lora_mm does: for each adapted matrix, y += userScale · (alpha/rank) · B (A x).
// The base stays mapped and quantized; the factors live here in F32 (A as rank rows of In, B stored
// transposed as rank rows of Out, so the second product is rank vectorized multiply-adds into y).
// Cost per token and matrix: rank × (In + Out) multiply-adds. Every shape is checked against the base
// once, here, so Apply can trust it. Not a file reader (LoraFiles) and not a merger (LoraMerger).
using System.Numerics.Tensors;
using EdgeLM.Formats;

namespace EdgeLM.Models.Lora;

/// <summary>The base matrices an adapter may target: the seven per layer and the output head.</summary>
public enum LoraSlot { AttnQ, AttnK, AttnV, AttnOutput, FfnGate, FfnUp, FfnDown, Output }

/// <summary>An adapter to apply with a user scale (1: as trained, 0: off); Path names it in messages.</summary>
public sealed record ScaledLora(LoraAdapter Adapter, float Scale, string Path);

public sealed class LoraStack
{
    const int Slots = 8;

    /// <summary>One adapter's factors for one base matrix. A is (Rank, In); Bt is Bᵀ, (Rank, Out).</summary>
    sealed record Entry(int Adapter, int Rank, int In, int Out, float[] A, float[] Bt, float Scale);

    [ThreadStatic] static float[]? t_u;

    readonly Entry[][] _entries;   // (layer, slot) → entries; the output head is the last row
    readonly float[] _userScales;
    readonly int _layers;

    /// <summary>Checks every adapter against the base and prepares its factors. Throws
    /// InvalidModelFileException naming the adapter file and tensor when one does not fit.</summary>
    public LoraStack(DecoderModel model, IReadOnlyList<ScaledLora> adapters)
    {
        _layers = model.Config.BlockCount;
        var lists = new List<Entry>[(_layers + 1) * Slots];
        Adapters = adapters;
        _userScales = new float[adapters.Count];
        var targets = BaseMatrices(model);
        for (int i = 0; i < adapters.Count; i++)
        {
            var (a, scale, path) = adapters[i];
            CheckScale(scale, path);
            _userScales[i] = scale;
            if (a.Architecture != model.Config.Architecture)
                throw new InvalidModelFileException(path, $"the adapter is for the '{a.Architecture}' architecture but the base model is '{model.Config.Architecture}'");
            foreach (var t in a.Tensors)
            {
                var (layer, slot, w) = LoraBaseCheck.Resolve(targets, t, path);
                var bt = Transpose(t.B, t.Out, t.Rank, PermuteRows(model, slot));
                (lists[Index(layer, slot)] ??= []).Add(new Entry(i, t.Rank, t.In, t.Out, t.A, bt, a.Scale(t)));
            }
        }
        _entries = new Entry[lists.Length][];
        for (int i = 0; i < lists.Length; i++) _entries[i] = lists[i]?.ToArray() ?? [];
    }

    public IReadOnlyList<ScaledLora> Adapters { get; }

    /// <summary>Changes one adapter's user scale (0 switches it off). Not while a forward pass runs.</summary>
    public void SetScale(int adapter, float scale)
    {
        CheckScale(scale, Adapters[adapter].Path);
        _userScales[adapter] = scale;
    }

    public float GetScale(int adapter) => _userScales[adapter];

    /// <summary>y (T, Out) += Σ adapters userScale · scale · x (T, In) · Aᵀ · Bᵀ for the matrix at (layer, slot);
    /// layer is ignored for the output head. Allocates nothing after a thread's first call.</summary>
    public void Apply(int layer, LoraSlot slot, ReadOnlySpan<float> x, Span<float> y, int T)
    {
        var entries = _entries[Index(layer, slot)];
        foreach (var e in entries)
        {
            float s = _userScales[e.Adapter] * e.Scale;
            if (s == 0) continue;
            var u = t_u is { } b && b.Length >= e.Rank ? b.AsSpan(0, e.Rank) : (t_u = new float[Math.Max(e.Rank, 64)]).AsSpan(0, e.Rank);
            for (int t = 0; t < T; t++)
            {
                var xt = x.Slice(t * e.In, e.In);
                var yt = y.Slice(t * e.Out, e.Out);
                // u = s · A xt (rank)            then   yt += Σ_r u[r] · Bᵀ[r]
                for (int r = 0; r < e.Rank; r++) u[r] = s * TensorPrimitives.Dot(e.A.AsSpan(r * e.In, e.In), xt);
                for (int r = 0; r < e.Rank; r++) TensorPrimitives.MultiplyAdd(e.Bt.AsSpan(r * e.Out, e.Out), u[r], yt, yt);
            }
        }
    }

    /// <summary>True when some adapter targets the matrix at (layer, slot).</summary>
    public bool Targets(int layer, LoraSlot slot) => _entries[Index(layer, slot)].Length > 0;

    int Index(int layer, LoraSlot slot) => slot == LoraSlot.Output ? _layers * Slots : layer * Slots + (int)slot;

    static void CheckScale(float scale, string path)
    {
        if (!float.IsFinite(scale)) throw new ArgumentException($"{path}: the adapter scale {scale} is not a finite number");
    }

    /// <summary>Every matrix of the base an adapter may target, by GGUF name.</summary>
    public static Dictionary<string, (int Layer, LoraSlot Slot, WeightMatrix W)> BaseMatrices(DecoderModel model)
    {
        var d = new Dictionary<string, (int, LoraSlot, WeightMatrix)>(StringComparer.Ordinal);
        var w = model.Weights;
        for (int l = 0; l < w.Layers.Length; l++)
        {
            var L = w.Layers[l];
            d[TensorNames.AttnQ(l)] = (l, LoraSlot.AttnQ, L.AttnQ);
            d[TensorNames.AttnK(l)] = (l, LoraSlot.AttnK, L.AttnK);
            d[TensorNames.AttnV(l)] = (l, LoraSlot.AttnV, L.AttnV);
            d[TensorNames.AttnOutput(l)] = (l, LoraSlot.AttnOutput, L.AttnOutput);
            d[TensorNames.FfnGate(l)] = (l, LoraSlot.FfnGate, L.FfnGate);
            d[TensorNames.FfnUp(l)] = (l, LoraSlot.FfnUp, L.FfnUp);
            d[TensorNames.FfnDown(l)] = (l, LoraSlot.FfnDown, L.FfnDown);
        }
        // A tied head is the embedding matrix, which llama.cpp adapts as "output.weight" only when it exists.
        if (!w.TiedOutput) d[TensorNames.Output] = (0, LoraSlot.Output, w.Output);
        return d;
    }

    /// <summary>Adapters name rows in GGUF (interleaved-RoPE) order; a llama base read from Hugging Face
    /// safetensors keeps Q/K rows in rotate-half order, so B's rows are taken back to that order.</summary>
    static int PermuteRows(DecoderModel model, LoraSlot slot)
    {
        if (!model.Source.QkRotateHalf || model.Config.Architecture != "llama") return 0;
        return slot switch { LoraSlot.AttnQ => model.Config.HeadCount, LoraSlot.AttnK => model.Config.HeadCountKv, _ => 0 };
    }

    /// <summary>Bᵀ (rank, out) from B (out, rank); with heads > 0, GGUF row r lands on its Hugging Face row.</summary>
    static float[] Transpose(float[] b, int outDim, int rank, int heads)
    {
        var bt = new float[b.Length];
        for (int o = 0; o < outDim; o++)
        {
            int dst = heads > 0 ? (int)GgufConverter.PermutedSourceRow(o, outDim, heads) : o;
            for (int r = 0; r < rank; r++) bt[r * outDim + dst] = b[o * rank + r];
        }
        return bt;
    }
}
