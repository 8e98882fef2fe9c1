// Trainable low-rank adapters (LoRA, Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language
// Models") on the training Transformer's block projections: y += scale · (x Aᵀ) Bᵀ with A (r, C) and
// B (OC, r), scale = alpha / r. A starts as PEFT initialises it (kaiming_uniform_ with a = sqrt(5),
// i.e. U(−1/sqrt(C), 1/sqrt(C))), B at zero, so training starts from the base model exactly. All A
// and B live in one array (and their gradients in a second), as the base parameters do; the base is
// frozen (FreezeBase), so only these train. Not an optimizer loop: see FineTuner.
// Legend: N = B·T rows, C = input channels, OC = output channels, r = rank.
using System.Numerics.Tensors;
using EdgeLM.Models.Lora;
using EdgeLM.Training.Layers;
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training.Lora;

/// <summary>LoRA hyper-parameters. Defaults: rank 8, alpha 16 (scale 2), every projection adapted.</summary>
public sealed record LoraOptions
{
    public int Rank { get; init; } = 8;
    /// <summary>The scale is Alpha / Rank (llama.cpp's and PEFT's rule); 0 means scale 1.</summary>
    public float Alpha { get; init; } = 16f;
    public IReadOnlyList<LinearTarget> Targets { get; init; } = Enum.GetValues<LinearTarget>();
}

public sealed class LoraLayers : ILinearHook
{
    const int TargetCount = 7;

    /// <summary>One adapted projection: its factors in <see cref="Data"/> and its saved x·Aᵀ·scale (N, r).</summary>
    sealed record Slot(string Name, int In, int Out, ParameterTensor A, ParameterTensor B, int HOffset);

    readonly Slot?[] _slots;          // (layer, target)
    readonly List<Slot> _list = [];
    readonly float[] _h;              // per slot (N, r): scale · x Aᵀ, kept for the backward pass
    readonly float[] _tmp;            // (N, max OC): the low-rank term before it is added
    readonly float[] _dh;             // (N, r)
    readonly float[] _m, _v;          // AdamW moments, layout of Data
    readonly int _maxN;

    public LoraLayers(TransformerConfig config, int B, int T, LoraOptions options)
    {
        var c = config.Model;
        if (options.Rank <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"LoRA rank {options.Rank} must be positive");
        Options = options;
        Architecture = c.Architecture;
        _maxN = B * T;
        int r = options.Rank, count = 0, maxOut = 0;
        _slots = new Slot?[c.BlockCount * TargetCount];
        for (int l = 0; l < c.BlockCount; l++)
            foreach (var t in options.Targets)
            {
                var (inDim, outDim) = Shape(c, t);
                string name = LinearTargets.TensorName(l, t);
                var a = new ParameterTensor(name + ".lora_a", count, r, inDim);
                count = checked(count + a.Length);
                var b = new ParameterTensor(name + ".lora_b", count, outDim, r);
                count = checked(count + b.Length);
                var slot = new Slot(name, inDim, outDim, a, b, _list.Count * _maxN * r);
                _slots[l * TargetCount + (int)t] = slot;
                _list.Add(slot);
                maxOut = Math.Max(maxOut, outDim);
            }
        Count = count;
        Data = GC.AllocateArray<float>(count, pinned: true);
        Grad = GC.AllocateArray<float>(count, pinned: true);
        _m = new float[count];
        _v = new float[count];
        _h = new float[checked(_list.Count * _maxN * r)];
        _tmp = new float[checked(_maxN * maxOut)];
        _dh = new float[_maxN * r];
    }

    public LoraOptions Options { get; }
    public string Architecture { get; }
    public float Scale => Options.Alpha == 0 ? 1f : Options.Alpha / Options.Rank;
    /// <summary>Every A and B, (r, C) and (OC, r) row-major, in layer then target order.</summary>
    public float[] Data { get; }
    public float[] Grad { get; }
    public int Count { get; }
    public bool FreezeBase => true;
    /// <summary>Each adapted projection's A then B tensor (names end in .lora_a / .lora_b).</summary>
    public IEnumerable<ParameterTensor> Tensors => _list.SelectMany(s => new[] { s.A, s.B });

    /// <summary>(in, out) of a projection: q (C → Hq·D), k and v (C → Hkv·D), o (Hq·D → C), gate and up (C → F), down (F → C).</summary>
    static (int In, int Out) Shape(Models.ModelConfig c, LinearTarget t) => t switch
    {
        LinearTarget.AttnQ => (c.EmbeddingLength, c.QueryDim),
        LinearTarget.AttnK or LinearTarget.AttnV => (c.EmbeddingLength, c.KvDim),
        LinearTarget.AttnOutput => (c.QueryDim, c.EmbeddingLength),
        LinearTarget.FfnGate or LinearTarget.FfnUp => (c.EmbeddingLength, c.FeedForwardLength),
        _ => (c.FeedForwardLength, c.EmbeddingLength),
    };

    /// <summary>A ~ U(−1/sqrt(in), 1/sqrt(in)) (PEFT's kaiming_uniform_(a=sqrt(5))), B = 0.</summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        foreach (var s in _list)
        {
            float bound = 1f / MathF.Sqrt(s.In);
            var a = s.A.Of(Data);
            for (int i = 0; i < a.Length; i++) a[i] = (2f * rng.NextSingle() - 1f) * bound;
            s.B.Of(Data).Clear();
        }
    }

    public void Forward(int layer, LinearTarget target, Span<float> output, ReadOnlySpan<float> input, int N, int C, int OC, WorkerPool? pool)
    {
        var s = _slots[layer * TargetCount + (int)target];
        if (s is null) return;
        int r = Options.Rank;
        var h = _h.AsSpan(s.HOffset, N * r);
        // h = scale · x Aᵀ (N, r); y += h Bᵀ (N, OC)
        Linear.Forward(h, input, s.A.Of(Data), default, N, C, r, pool);
        TensorPrimitives.Multiply(h, Scale, h);
        var tmp = _tmp.AsSpan(0, N * OC);
        Linear.Forward(tmp, h, s.B.Of(Data), default, N, r, OC, pool);
        TensorPrimitives.Add(output, tmp, output);
    }

    public void Backward(int layer, LinearTarget target, Span<float> dinput, ReadOnlySpan<float> doutput, ReadOnlySpan<float> input,
        int N, int C, int OC, WorkerPool? pool)
    {
        var s = _slots[layer * TargetCount + (int)target];
        if (s is null) return;
        int r = Options.Rank;
        var h = _h.AsSpan(s.HOffset, N * r);
        var dh = _dh.AsSpan(0, N * r);
        dh.Clear();
        // forward: y += h Bᵀ ⇒ dh = dy B, dB += dyᵀ h
        Linear.Backward(dh, s.B.Of(Grad), default, doutput, h, s.B.Of(Data), N, r, OC, pool);
        // forward: h = scale · x Aᵀ ⇒ d(x Aᵀ) = scale · dh; dx += d(x Aᵀ) A, dA += d(x Aᵀ)ᵀ x
        TensorPrimitives.Multiply(dh, Scale, dh);
        Linear.Backward(dinput, s.A.Of(Grad), default, dh, input, s.A.Of(Data), N, C, r, pool);
    }

    public void ZeroGrad() => Array.Clear(Grad);

    /// <summary>One AdamW update of every A and B (their own moments; decay as <paramref name="adam"/> says).</summary>
    public void Step(float lr, AdamWOptions adam, int t)
    {
        foreach (var s in _list)
            foreach (var p in (ReadOnlySpan<ParameterTensor>)[s.A, s.B])
                AdamW.Update(p.Of(Data), p.Of(Grad), _m.AsSpan(p.Offset, p.Length), _v.AsSpan(p.Offset, p.Length), lr, adam.WeightDecay, t, adam);
    }

    /// <summary>The trained adapter, with copies of A and B, named by the GGUF tensors they adapt.</summary>
    public LoraAdapter ToAdapter()
    {
        var tensors = new List<LoraTensor>(_list.Count);
        foreach (var s in _list)
            tensors.Add(new LoraTensor(s.Name, Options.Rank, s.In, s.Out, s.A.Of(Data).ToArray(), s.B.Of(Data).ToArray()));
        return new LoraAdapter(Architecture, Options.Alpha, tensors);
    }

    /// <summary>Sets A and B from an adapter of the same targets, rank and shapes (to resume or to check).</summary>
    public void Load(LoraAdapter adapter)
    {
        foreach (var t in adapter.Tensors)
        {
            var s = _list.Find(x => x.Name == t.Target)
                ?? throw new ArgumentException($"LoRA tensor '{t.Target}' is not a target of this model's adapters");
            if (t.Rank != Options.Rank || t.In != s.In || t.Out != s.Out)
                throw new ArgumentException($"LoRA tensor '{t.Target}': rank {t.Rank}, {t.In} → {t.Out}; expected rank {Options.Rank}, {s.In} → {s.Out}");
            t.A.CopyTo(s.A.Of(Data));
            t.B.CopyTo(s.B.Of(Data));
        }
    }
}
