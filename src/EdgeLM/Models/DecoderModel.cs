// A llama-family decoder (llama, qwen2, qwen3): llama.cpp's build_llama / build_qwen2 / build_qwen3
// in one forward pass, since those three differ only in optional tensors and the RoPE style.
// Legend: T = tokens in the micro-batch, C = n_embd, Hq/Hkv = query/key-value heads, D = head size,
// FF = feed-forward width, V = vocabulary.
// Between the matrix products, the element-wise work of a prompt (norms, biases, RoPE, the cache
// store, SwiGLU and the quantization of its result) is split across the pool by token rows (RowJobs,
// QkvRows below), each row by the same function as on one thread, so the results do not depend on it.
using System.Numerics.Tensors;
using EdgeLM.Formats;
using EdgeLM.Kernels;
using EdgeLM.Models.Lora;

namespace EdgeLM.Models;

/// <summary>Sees the residual stream after each layer (for tracing and debugging).</summary>
public interface ILayerObserver
{
    /// <summary>x is (T, C): the hidden state of every token of the micro-batch after layer <paramref name="layer"/>.</summary>
    void AfterLayer(int layer, ReadOnlySpan<float> x, int T);
}

public sealed class DecoderModel : IDisposable
{
    readonly MatMul _matmul = new();
    readonly Attention _attention = new();
    readonly RowJobs _rows = new();
    readonly QkvRows _qkv = new();

    DecoderModel(IModelSource source, ArchitectureSpec arch, ModelConfig config, DecoderWeights weights)
    {
        Source = source;
        Architecture = arch;
        Config = config;
        Weights = weights;
    }

    public IModelSource Source { get; }
    public ArchitectureSpec Architecture { get; }
    public ModelConfig Config { get; }
    public DecoderWeights Weights { get; }
    /// <summary>The LoRA adapters applied on top of the weights, or null for none.</summary>
    public LoraStack? Lora { get; private set; }

    /// <summary>Applies these adapters (checked against the weights) from the next forward pass on; an
    /// empty list removes them. The weights themselves never change. Not while a forward pass runs.</summary>
    public void UseAdapters(IReadOnlyList<ScaledLora> adapters) =>
        Lora = adapters.Count == 0 ? null : new LoraStack(this, adapters);

    /// <summary>Builds the model over a source; the source is owned by the model from then on. With
    /// <paramref name="repack"/>, matrices with a faster decode layout on this CPU get a repacked copy
    /// (DecoderWeights.Load): faster decoding for about the matrices' size again in memory. Off by
    /// default, for the callers that read the mapped tensors themselves (training, conversion).</summary>
    public static DecoderModel Load(IModelSource source, bool repack = false)
    {
        string? archName = source.Metadata.TryGetValue("general.architecture", out var a) ? a.Value as string : null;
        var arch = Architectures.Get(source.Path, archName);
        var embd = source.Tensors.FirstOrDefault(t => t.Name == TensorNames.TokenEmbd)
            ?? throw new InvalidModelFileException(source.Path, $"tensor '{TensorNames.TokenEmbd}' is missing");
        if (embd.Dimensions.Length != 2)
            throw new InvalidModelFileException(source.Path, $"tensor '{TensorNames.TokenEmbd}' is not a matrix");
        // HF-ordered llama Q/K rows need rotate-half RoPE; GGUF llama stores them permuted for pairs.
        bool neox = arch.RopeNeox || source.QkRotateHalf;
        var config = ModelConfig.FromMetadata(source.Path, source.Metadata, arch.Name, checked((int)embd.Dimensions[1]), neox);
        var weights = DecoderWeights.Load(source, config, arch.Layer, repack);
        return new DecoderModel(source, arch, config, weights);
    }

    /// <summary>Runs tokens (T ≤ MaxBatch) at positions s.Position.. through the model, appends them to
    /// the KV cache, and leaves the last token's logits in s.Logits (and, when allLogits is given,
    /// every token's logits there, (T, V)).</summary>
    public void Forward(DecoderState s, ReadOnlySpan<int> tokens, Span<float> allLogits = default, ILayerObserver? observer = null)
    {
        var c = Config;
        var w = Weights;
        var lora = Lora;
        int T = tokens.Length, C = c.EmbeddingLength, pos0 = s.Position;
        if (T == 0) return;
        if (T > s.MaxBatch) throw new ArgumentException($"{T} tokens exceed the micro-batch of {s.MaxBatch}");
        if (pos0 + T > s.ContextLength)
            throw new InvalidOperationException($"context is full: {pos0} + {T} tokens exceed the context length {s.ContextLength}");

        // x = token_embd[tokens]                                   x is (T, C)
        for (int t = 0; t < T; t++)
        {
            if ((uint)tokens[t] >= (uint)c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {tokens[t]} is outside the vocabulary (0..{c.VocabSize - 1})");
            w.TokenEmbd.DequantizeRow(tokens[t], s.X.AsSpan(t * C, C));
        }
        PrepareRope(s, pos0, T);

        for (int l = 0; l < c.BlockCount; l++)
        {
            var L = w.Layers[l];
            // Attention: xb = rmsnorm(x) * attn_norm; q, k, v = xb Wqᵀ (+b), xb Wkᵀ (+b), xb Wvᵀ (+b)
            RmsNormRows(s, s.Xb, s.X, L.AttnNorm, C, T, c.RmsEps);
            MatMul.QuantizeActivations(s, L.AttnQ, s.Xb, T);
            if (SameActivationType(L.AttnQ, L.AttnK) && SameActivationType(L.AttnK, L.AttnV))
            {
                _matmul.Run(s, L.AttnQ, s.Q, L.AttnK, s.K, L.AttnV, s.V, T); // one pool job for the three
            }
            else
            {
                _matmul.Run(s, L.AttnQ, s.Q, T);
                if (!SameActivationType(L.AttnQ, L.AttnK)) MatMul.QuantizeActivations(s, L.AttnK, s.Xb, T);
                _matmul.Run(s, L.AttnK, s.K, T);
                if (!SameActivationType(L.AttnK, L.AttnV)) MatMul.QuantizeActivations(s, L.AttnV, s.Xb, T);
                _matmul.Run(s, L.AttnV, s.V, T);
            }
            lora?.Apply(l, LoraSlot.AttnQ, s.Xb, s.Q, T);
            lora?.Apply(l, LoraSlot.AttnK, s.Xb, s.K, T);
            lora?.Apply(l, LoraSlot.AttnV, s.Xb, s.V, T);
            // per token: biases; qwen3's q = rmsnorm(q per head) * q_norm, k likewise; RoPE; k, v into the cache
            _qkv.Run(s, L, l, pos0, T);
            // o = softmax(q kᵀ / sqrt(D)) v over the cache; x += o Woᵀ
            _attention.Run(s, l, pos0, T);
            _matmul.Run(s, L.AttnOutput, s.AttnOut.AsSpan(0, T * c.QueryDim), s.Xb, T);
            lora?.Apply(l, LoraSlot.AttnOutput, s.AttnOut, s.Xb, T);
            TensorPrimitives.Add(s.X.AsSpan(0, T * C), s.Xb.AsSpan(0, T * C), s.X.AsSpan(0, T * C));

            // Feed-forward: xb = rmsnorm(x) * ffn_norm; x += (silu(xb Wgᵀ) ⊙ xb Wuᵀ) Wdᵀ
            RmsNormRows(s, s.Xb, s.X, L.FfnNorm, C, T, c.RmsEps);
            MatMul.QuantizeActivations(s, L.FfnGate, s.Xb, T);
            if (SameActivationType(L.FfnGate, L.FfnUp))
            {
                _matmul.Run(s, L.FfnGate, s.Gate, L.FfnUp, s.Up, T); // one pool job for both
            }
            else
            {
                _matmul.Run(s, L.FfnGate, s.Gate, T);
                MatMul.QuantizeActivations(s, L.FfnUp, s.Xb, T);
                _matmul.Run(s, L.FfnUp, s.Up, T);
            }
            lora?.Apply(l, LoraSlot.FfnGate, s.Xb, s.Gate, T);
            lora?.Apply(l, LoraSlot.FfnUp, s.Xb, s.Up, T);
            // gate = silu(gate) ⊙ up, each row quantized for Wd as soon as it is made; then x Wdᵀ
            _rows.SwiGluQuantize(s, L.FfnDown, T);
            _matmul.Run(s, L.FfnDown, s.Xb, T);
            lora?.Apply(l, LoraSlot.FfnDown, s.Gate, s.Xb, T);
            TensorPrimitives.Add(s.X.AsSpan(0, T * C), s.Xb.AsSpan(0, T * C), s.X.AsSpan(0, T * C));
            observer?.AfterLayer(l, s.X.AsSpan(0, T * C), T);
        }

        // logits = rmsnorm(x) * output_norm · Woutᵀ, for the last token (or all of them)
        if (allLogits.IsEmpty)
        {
            Norm.RmsNorm(s.Xb.AsSpan(0, C), s.X.AsSpan((T - 1) * C, C), w.OutputNorm, c.RmsEps);
            _matmul.Run(s, w.Output, s.Xb.AsSpan(0, C), s.Logits, 1);
            lora?.Apply(0, LoraSlot.Output, s.Xb, s.Logits, 1);
        }
        else
        {
            RmsNormRows(s, s.Xb, s.X, w.OutputNorm, C, T, c.RmsEps);
            _matmul.Run(s, w.Output, s.Xb.AsSpan(0, T * C), allLogits[..(T * c.VocabSize)], T);
            lora?.Apply(0, LoraSlot.Output, s.Xb, allLogits, T);
            allLogits.Slice((T - 1) * c.VocabSize, c.VocabSize).CopyTo(s.Logits);
        }
        s.Position = pos0 + T;
    }

    /// <summary>The logit lens: what the output head would predict from a hidden state (C) of any layer.</summary>
    public void LogitLens(DecoderState s, ReadOnlySpan<float> hidden, Span<float> logits)
    {
        int C = Config.EmbeddingLength;
        var normed = new float[C];
        Norm.RmsNorm(normed, hidden, Weights.OutputNorm, Config.RmsEps);
        _matmul.Run(s, Weights.Output, normed, logits, 1);
        Lora?.Apply(0, LoraSlot.Output, normed, logits, 1);
    }

    static bool SameActivationType(WeightMatrix a, WeightMatrix b) =>
        Quantization.QuantKernels.VecDotType(a.Type) == Quantization.QuantKernels.VecDotType(b.Type) && a.Cols == b.Cols;

    void RmsNormRows(DecoderState s, float[] y, float[] x, float[] weight, int n, int rows, float eps) =>
        _rows.RmsNorm(s, y, x, weight, n, rows, eps);

    void PrepareRope(DecoderState s, int pos0, int T)
    {
        int half = Config.RopeDimensions / 2;
        for (int t = 0; t < T; t++)
            Rope.Angles(s.RopeCos.AsSpan(t * half, half), s.RopeSin.AsSpan(t * half, half), pos0 + t,
                Config.RopeDimensions, Config.RopeFreqBase, Weights.RopeFreqs, Config.RopeFreqScale);
    }

    public void Dispose()
    {
        Weights.FreeCopies();
        Source.Dispose();
    }
}

/// <summary>The element-wise work between the matrix products, split across the pool by rows for a prompt:
/// each row by the same function as on one thread, so results are identical to the single-threaded loop.</summary>
sealed unsafe class RowJobs : IParallelJob
{
    /// <summary>Below ~16K values per chunk, handing rows to another thread costs more than the work.</summary>
    const int ValuesPerChunk = 16384;

    enum Op { RmsNorm, SwiGluQuantize }

    Op _op;
    float* _y;
    float* _x;
    float* _w;
    float _eps;
    int _n;
    Tensors.GgmlType _type;
    byte* _q;
    long _qStride;
    int _qRowBytes;

    /// <summary>y[r] = rmsnorm(x[r]) · weight for rows r of n values; y may be x.</summary>
    public void RmsNorm(DecoderState s, float[] y, float[] x, float[] weight, int n, int rows, float eps)
    {
        fixed (float* py = y, px = x, pw = weight)
        {
            (_op, _n, _eps) = (Op.RmsNorm, n, eps);
            _y = py; _x = px; _w = pw;
            Dispatch(s, rows);
        }
    }

    /// <summary>s.Gate[t] = silu(s.Gate[t]) ⊙ s.Up[t] for the T rows, each then quantized to the activation type of
    /// <paramref name="down"/> into s.Quantized (as MatMul.QuantizeActivations lays it out), while still in cache.</summary>
    public void SwiGluQuantize(DecoderState s, WeightMatrix down, int T)
    {
        var vt = Quantization.QuantKernels.VecDotType(down.Type);
        fixed (float* gate = s.Gate, up = s.Up)
        fixed (byte* q = s.Quantized)
        {
            (_op, _n, _type, _qStride) = (Op.SwiGluQuantize, s.Config.FeedForwardLength, vt, s.ActivationRowBytes);
            _qRowBytes = (int)Tensors.GgmlTypes.RowBytes(vt, down.Cols);
            _y = gate; _x = up; _q = q;
            Dispatch(s, T);
        }
    }

    void Dispatch(DecoderState s, int rows)
    {
        int grain = Math.Max(1, ValuesPerChunk / Math.Max(1, _n));
        if (rows <= grain) Execute(0, rows);
        else s.Pool.For(rows, grain, this);
        _y = _x = _w = null;
        _q = null;
    }

    public void Execute(int start, int end)
    {
        int n = _n;
        for (int r = start; r < end; r++)
        {
            var y = new Span<float>(_y + (long)r * n, n);
            if (_op == Op.RmsNorm)
            {
                Norm.RmsNorm(y, new ReadOnlySpan<float>(_x + (long)r * n, n), new ReadOnlySpan<float>(_w, n), _eps);
                continue;
            }
            Activations.SwiGlu(y, y, new ReadOnlySpan<float>(_x + (long)r * n, n));
            Quantization.QuantKernels.Quantize(_type, y, new Span<byte>(_q + r * _qStride, _qRowBytes));
        }
    }
}

/// <summary>What happens to each token's q, k and v rows between their matrix products and attention (biases,
/// per-head q/k norms, RoPE, the KV-cache store), one token at a time, tokens split across the pool for a
/// prompt: the same per-row functions in the same order as on one thread.</summary>
sealed class QkvRows : IParallelJob
{
    /// <summary>A token's rows cost ~C operations; below ~8 tokens a chunk is not worth handing over.</summary>
    const int Grain = 8;

    DecoderState? _s;
    LayerWeights? _layer;
    int _l;
    int _pos0;

    public void Run(DecoderState s, LayerWeights layer, int l, int pos0, int T)
    {
        (_s, _layer, _l, _pos0) = (s, layer, l, pos0);
        if (T <= Grain) Execute(0, T);
        else s.Pool.For(T, Grain, this);
        (_s, _layer) = (null, null);
    }

    public void Execute(int start, int end)
    {
        var s = _s!;
        var L = _layer!;
        var c = s.Config;
        int qd = c.QueryDim, kvd = c.KvDim, D = c.HeadDim, half = c.RopeDimensions / 2;
        for (int t = start; t < end; t++)
        {
            var q = s.Q.AsSpan(t * qd, qd);
            var k = s.K.AsSpan(t * kvd, kvd);
            var v = s.V.AsSpan(t * kvd, kvd);
            if (L.AttnQBias is { } qb) TensorPrimitives.Add(q, qb, q);
            if (L.AttnKBias is { } kb) TensorPrimitives.Add(k, kb, k);
            if (L.AttnVBias is { } vb) TensorPrimitives.Add(v, vb, v);
            if (L.AttnQNorm is { } qn)
                for (int h = 0; h < c.HeadCount; h++) Norm.RmsNorm(q.Slice(h * D, D), q.Slice(h * D, D), qn, c.RmsEps);
            if (L.AttnKNorm is { } kn)
                for (int h = 0; h < c.HeadCountKv; h++) Norm.RmsNorm(k.Slice(h * D, D), k.Slice(h * D, D), kn, c.RmsEps);
            var cos = s.RopeCos.AsSpan(t * half, half);
            var sin = s.RopeSin.AsSpan(t * half, half);
            Rope.Apply(q, c.HeadCount, D, c.RopeDimensions, cos, sin, c.RopeNeox);
            Rope.Apply(k, c.HeadCountKv, D, c.RopeDimensions, cos, sin, c.RopeNeox);
        }
        // Positions pos0+start .. pos0+end-1 of the cache: no other chunk writes them.
        s.Cache.Store(_l, _pos0 + start, end - start, s.K.AsSpan(start * kvd, (end - start) * kvd), s.V.AsSpan(start * kvd, (end - start) * kvd));
    }
}
