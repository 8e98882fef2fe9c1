// A trainable llama-family decoder (llama, qwen2 with Q/K/V biases, qwen3 with per-head q/k norms;
// tied or separate output head) composed from the layers in Training/Layers. The forward pass is
// the engine's DecoderModel.Forward (llama.cpp's build_llama / build_qwen2 / build_qwen3) over
// B independent sequences of T tokens each starting at position 0; the backward pass walks it in
// reverse (recomputing each block's forward first when activations are checkpointed). F32 throughout. Not an inference engine: there is no KV cache; export to GGUF for that.
// Fine-tuning plugs in through two hooks on the block projections (Training/Lora): LinearHook adds
// LoRA terms and may freeze the base; FrozenProjections supplies frozen weights kept quantized
// (block projections, and the token embedding and output head).
// Legend: B = batch, T = time, N = B·T, C = n_embd, Hq/Hkv = heads, D = head size, F = FFN width, V = vocab.
using EdgeLM.Training.Layers;
using EdgeLM.Training.Lora;
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training;

public sealed class Transformer
{
    /// <summary>A model for batches of (B, T). <paramref name="activations"/> bounds activation memory
    /// (checkpointing, logits in chunks); <paramref name="external"/> names the tensors held elsewhere
    /// (FrozenProjections), which get no F32 storage in Parameters.</summary>
    public Transformer(TransformerConfig config, int B, int T, ActivationOptions? activations = null, Func<string, bool>? external = null)
    {
        Config = config;
        Parameters = new TransformerParameters(config, external);
        Acts = new TransformerActivations(config, B, T, activations);
        Inputs = new int[B * T];
        Targets = new int[B * T];
        Mask = new bool[B * T];
    }

    public TransformerConfig Config { get; }
    public TransformerParameters Parameters { get; }
    public TransformerActivations Acts { get; }
    /// <summary>The batch of the last Forward: inputs, targets and which positions count, (B, T) each.</summary>
    public int[] Inputs { get; }
    public int[] Targets { get; }
    public bool[] Mask { get; }
    /// <summary>Logits of the last Forward, (N, V), until Backward turns them into their gradient. Unavailable
    /// when the logits are computed in chunks (ActivationOptions.LogitRows below N).</summary>
    public ReadOnlySpan<float> Logits => Acts.LogitRows == Acts.B * Acts.T
        ? Acts.Logits
        : throw new InvalidOperationException($"logits are computed {Acts.LogitRows} rows at a time; ActivationOptions.LogitRows = 0 keeps all");

    int _masked;   // positions the last Forward's mask selects

    /// <summary>Runs inputs (B·T) through the model; with targets, returns the mean cross-entropy over the
    /// positions mask selects (every position when mask is empty), else NaN.</summary>
    public float Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask, WorkerPool? pool = null)
    {
        var c = Config.Model;
        int B = Acts.B, T = Acts.T, N = B * T, C = c.EmbeddingLength, V = c.VocabSize;
        if (inputs.Length != N) throw new ArgumentException($"expected {N} tokens (B={B}, T={T}), got {inputs.Length}", nameof(inputs));
        foreach (int tok in inputs)
            if ((uint)tok >= (uint)V) throw new ArgumentOutOfRangeException(nameof(inputs), $"token id {tok} is outside the vocabulary (0..{V - 1})");
        inputs.CopyTo(Inputs);
        var p = Parameters.Data;
        var a = Acts.Data;
        if (FrozenProjections is { HoldsEmbedding: true } f) f.Embed(Acts.Encoded.Of(a), inputs, N, C);
        else Encoder.Forward(Acts.Encoded.Of(a), inputs, Parameters.TokenEmbd.Of(p), N, C);
        for (int l = 0; l < c.BlockCount; l++)
        {
            BlockForward(l, Acts.LayerInput(l), pool);
            if (Acts.Checkpointed) Acts.Layers[l].XFfn.Of(a).CopyTo(Acts.LayerInput(l + 1).Of(a));
        }
        var x = Acts.LayerInput(c.BlockCount);
        RmsNorm.Forward(Acts.LnF.Of(a), Acts.LnFRstd.Of(a), x.Of(a), Parameters.OutputNorm.Of(p), N, C, c.RmsEps);
        if (targets.IsEmpty)
        {
            if (Acts.LogitRows < N) throw new InvalidOperationException("logits computed in chunks need targets: only the loss is kept");
            HeadForward(Acts.Logits, 0, N, pool);
            return float.NaN;
        }
        if (targets.Length != N) throw new ArgumentException($"expected {N} targets, got {targets.Length}", nameof(targets));
        foreach (int tok in targets)
            if ((uint)tok >= (uint)V) throw new ArgumentOutOfRangeException(nameof(targets), $"target id {tok} is outside the vocabulary (0..{V - 1})");
        if (!mask.IsEmpty && mask.Length != N) throw new ArgumentException($"expected {N} mask entries, got {mask.Length}", nameof(mask));
        targets.CopyTo(Targets);
        if (mask.IsEmpty) Mask.AsSpan().Fill(true);
        else mask.CopyTo(Mask);
        _masked = CrossEntropy.Count(Mask);
        // loss = mean cross-entropy(lnf · Woutᵀ, targets), LogitRows rows at a time; the last chunk stays in the buffer
        double total = 0;
        var losses = Acts.Losses.Of(a);
        if (Acts.Options.VocabTiledLoss)
        {
            var head = FrozenProjections is { HoldsOutput: true } h ? h
                : throw new InvalidOperationException("VocabTiledLoss needs the output head held by FrozenProjections");
            total = head.OutputLoss(losses, Acts.LnF.Of(a), Targets, Mask, N, C, V, pool);
        }
        for (int n0 = 0; n0 < N && Acts.LogitRows > 0; n0 += Acts.LogitRows)
        {
            int R = Math.Min(Acts.LogitRows, N - n0);
            HeadForward(Acts.Logits, n0, R, pool);
            total += CrossEntropy.Losses(losses.Slice(n0, R), Acts.Logits, Targets.AsSpan(n0, R), Mask.AsSpan(n0, R), R, V);
        }
        return _masked == 0 ? 0f : (float)(total / _masked);
    }

    /// <summary>logits (R, V) = lnf[n0 .. n0+R) · Woutᵀ, from the held head when FrozenProjections has it.</summary>
    void HeadForward(Span<float> logits, int n0, int R, WorkerPool? pool)
    {
        int C = Config.Model.EmbeddingLength, V = Config.Model.VocabSize;
        var lnf = Acts.LnF.Of(Acts.Data).Slice(n0 * C, R * C);
        if (FrozenProjections is { HoldsOutput: true } f) f.OutputForward(logits[..(R * V)], lnf, R, C, V, pool);
        else Linear.Forward(logits[..(R * V)], lnf, Parameters.Output.Of(Parameters.Data), default, R, C, V, pool);
    }

    /// <summary>The head's backward for rows [n0, n0+R): dlnf += dlogits · Wout and, for a trained head, dWout += dlogitsᵀ lnf.</summary>
    void HeadBackward(ReadOnlySpan<float> dlogits, int n0, int R, WorkerPool? pool)
    {
        int C = Config.Model.EmbeddingLength, V = Config.Model.VocabSize;
        var lnf = Acts.LnF.Of(Acts.Data).Slice(n0 * C, R * C);
        var dlnf = Acts.LnFGradient.Of(Acts.Grad).Slice(n0 * C, R * C);
        dlogits = dlogits[..(R * V)];
        if (FrozenProjections is { HoldsOutput: true } f) f.OutputBackwardInput(dlnf, dlogits, R, C, V, pool);
        else if (LinearHook is { FreezeBase: true }) FrozenLinear.BackwardInput(dlnf, dlogits, Parameters.Output.Of(Parameters.Data), R, C, V, pool);
        else Linear.Backward(dlnf, Parameters.Output.Of(Parameters.Grad), default, dlogits, lnf, Parameters.Output.Of(Parameters.Data), R, C, V, pool);
    }

    void BlockForward(int l, ActivationBuffer input, WorkerPool? pool)
    {
        var c = Config.Model;
        var w = Parameters.Layers[l];
        var s = Acts.Layers[l];
        var p = Parameters.Data;
        var a = Acts.Data;
        int B = Acts.B, T = Acts.T, N = B * T, C = c.EmbeddingLength, Q = c.QueryDim, KV = c.KvDim, F = c.FeedForwardLength;
        int Hq = c.HeadCount, Hkv = c.HeadCountKv, D = c.HeadDim;
        // xb = rmsnorm(x) * attn_norm; q, k, v = xb Wqᵀ (+b), xb Wkᵀ (+b), xb Wvᵀ (+b)
        RmsNorm.Forward(s.Ln1.Of(a), s.Ln1Rstd.Of(a), input.Of(a), w.AttnNorm.Of(p), N, C, c.RmsEps);
        Project(l, LinearTarget.AttnQ, s.Q.Of(a), s.Ln1.Of(a), w.AttnQ.Of(p), Bias(w.AttnQBias), N, C, Q, pool);
        Project(l, LinearTarget.AttnK, s.K.Of(a), s.Ln1.Of(a), w.AttnK.Of(p), Bias(w.AttnKBias), N, C, KV, pool);
        Project(l, LinearTarget.AttnV, s.V.Of(a), s.Ln1.Of(a), w.AttnV.Of(p), Bias(w.AttnVBias), N, C, KV, pool);
        // qwen3: q = rmsnorm(q per head) * q_norm; k likewise (before RoPE)
        var qIn = s.Q;
        var kIn = s.K;
        if (w.AttnQNorm is not null && w.AttnKNorm is not null)
        {
            RmsNorm.Forward(s.QNormed.Of(a), s.QRstd.Of(a), s.Q.Of(a), w.AttnQNorm.Of(p), N * Hq, D, c.RmsEps);
            RmsNorm.Forward(s.KNormed.Of(a), s.KRstd.Of(a), s.K.Of(a), w.AttnKNorm.Of(p), N * Hkv, D, c.RmsEps);
            (qIn, kIn) = (s.QNormed, s.KNormed);
        }
        Rope.Forward(s.QRope.Of(a), qIn.Of(a), Acts.RopeCos, Acts.RopeSin, B, T, Hq, D, c.RopeDimensions, c.RopeNeox);
        Rope.Forward(s.KRope.Of(a), kIn.Of(a), Acts.RopeCos, Acts.RopeSin, B, T, Hkv, D, c.RopeDimensions, c.RopeNeox);
        // o = softmax(q kᵀ / sqrt(D)) v; x += o Woᵀ
        Attention.Forward(s.AttY.Of(a), s.Att.Of(a), s.QRope.Of(a), s.KRope.Of(a), s.V.Of(a), B, T, Hq, Hkv, D, pool);
        Project(l, LinearTarget.AttnOutput, s.XAttn.Of(a), s.AttY.Of(a), w.AttnOutput.Of(p), default, N, Q, C, pool);
        AddInPlace(s.XAttn.Of(a), input.Of(a));
        // xb = rmsnorm(x) * ffn_norm; x += (silu(xb Wgᵀ) ⊙ xb Wuᵀ) Wdᵀ
        RmsNorm.Forward(s.Ln2.Of(a), s.Ln2Rstd.Of(a), s.XAttn.Of(a), w.FfnNorm.Of(p), N, C, c.RmsEps);
        Project(l, LinearTarget.FfnGate, s.Gate.Of(a), s.Ln2.Of(a), w.FfnGate.Of(p), default, N, C, F, pool);
        Project(l, LinearTarget.FfnUp, s.Up.Of(a), s.Ln2.Of(a), w.FfnUp.Of(p), default, N, C, F, pool);
        SwiGlu.Forward(s.Swi.Of(a), s.Gate.Of(a), s.Up.Of(a), N * F);
        Project(l, LinearTarget.FfnDown, s.XFfn.Of(a), s.Swi.Of(a), w.FfnDown.Of(p), default, N, F, C, pool);
        AddInPlace(s.XFfn.Of(a), s.XAttn.Of(a));
    }

    /// <summary>Accumulates (+=) d(loss)/d(parameters) into Parameters.Grad for the last Forward with targets.
    /// Call ZeroGrad before the first micro-batch of a step; micro-batches in between accumulate.</summary>
    public void Backward(WorkerPool? pool = null, float lossScale = 1f)
    {
        var c = Config.Model;
        int N = Acts.B * Acts.T, V = c.VocabSize;
        var p = Parameters.Data;
        var g = Parameters.Grad;
        var a = Acts.Data;
        var d = Acts.Grad;
        Acts.ClearGradients();
        // forward: loss = mean cross-entropy(logits, targets) over the mask; logits = lnf · Woutᵀ. Last chunk
        // first: Forward left its logits in the buffer; the others are recomputed.
        float scale = _masked == 0 ? 0f : lossScale / _masked;
        if (Acts.Options.VocabTiledLoss)
            FrozenProjections!.OutputLossBackward(Acts.LnFGradient.Of(d), Acts.LnF.Of(a), Targets, Mask, scale, N, c.EmbeddingLength, V, pool);
        int last = Acts.LogitRows == 0 ? -1 : (N - 1) / Acts.LogitRows * Acts.LogitRows;
        for (int n0 = last; n0 >= 0; n0 -= Acts.LogitRows)
        {
            int R = Math.Min(Acts.LogitRows, N - n0);
            if (n0 != last) HeadForward(Acts.Logits, n0, R, pool);
            CrossEntropy.GradientInPlace(Acts.Logits, Targets.AsSpan(n0, R), Mask.AsSpan(n0, R), scale, R, V);
            HeadBackward(Acts.Logits, n0, R, pool);
        }
        var x = Acts.LayerInput(c.BlockCount);
        // forward: lnf = rmsnorm(x) * output_norm
        RmsNorm.Backward(Acts.InputGradient(c.BlockCount).Of(d), Parameters.OutputNorm.Of(g), Acts.LnFGradient.Of(d), x.Of(a), Parameters.OutputNorm.Of(p), Acts.LnFRstd.Of(a), N, c.EmbeddingLength);
        for (int l = c.BlockCount - 1; l >= 0; l--)
        {
            if (Acts.Checkpointed) Recompute(l, pool);
            BlockBackward(l, Acts.LayerInput(l), Acts.InputGradient(l), pool);
        }
        // forward: x = token_embd[tokens]
        if (LinearHook is not { FreezeBase: true } && FrozenProjections is not { HoldsEmbedding: true })
            Encoder.Backward(Parameters.TokenEmbd.Of(g), Acts.InputGradient(0).Of(d), Inputs, N, c.EmbeddingLength);
    }

    /// <summary>Checkpointing: refills the shared block activations with block l's forward from its saved input,
    /// clears their gradients, and moves the residual gradient (block l's output's) into the block's XFfn
    /// gradient, leaving the residual gradient zero for block l's input.</summary>
    void Recompute(int l, WorkerPool? pool)
    {
        var ds = Acts.LayerGradients(l);
        BlockForward(l, Acts.LayerInput(l), pool);
        Acts.ClearBlockGradients();
        var residual = Acts.InputGradient(l).Of(Acts.Grad);
        residual.CopyTo(ds.XFfn.Of(Acts.Grad));
        residual.Clear();
    }

    void BlockBackward(int l, ActivationBuffer input, ActivationBuffer dinput, WorkerPool? pool)
    {
        var c = Config.Model;
        var w = Parameters.Layers[l];
        var s = Acts.Layers[l];
        var ds = Acts.LayerGradients(l);
        var (p, g, a, d) = (Parameters.Data, Parameters.Grad, Acts.Data, Acts.Grad);
        int B = Acts.B, T = Acts.T, N = B * T, C = c.EmbeddingLength, Q = c.QueryDim, KV = c.KvDim, F = c.FeedForwardLength;
        int Hq = c.HeadCount, Hkv = c.HeadCountKv, D = c.HeadDim;
        // forward: xffn = xattn + swi Wdᵀ
        AddInPlace(ds.XAttn.Of(d), ds.XFfn.Of(d));
        ProjectBackward(l, LinearTarget.FfnDown, ds.Swi.Of(d), w.FfnDown.Of(g), default, ds.XFfn.Of(d), s.Swi.Of(a), w.FfnDown.Of(p), N, F, C, pool);
        // forward: swi = silu(gate) ⊙ up; gate = ln2 Wgᵀ; up = ln2 Wuᵀ
        if (Acts.Checkpointed) SwiGlu.BackwardInPlace(s.Gate.Of(a), s.Up.Of(a), ds.Swi.Of(d), N * F);   // ds.Gate, ds.Up are s.Gate, s.Up
        else SwiGlu.Backward(ds.Gate.Of(d), ds.Up.Of(d), ds.Swi.Of(d), s.Gate.Of(a), s.Up.Of(a), N * F);
        ProjectBackward(l, LinearTarget.FfnGate, ds.Ln2.Of(d), w.FfnGate.Of(g), default, ds.Gate.Of(d), s.Ln2.Of(a), w.FfnGate.Of(p), N, C, F, pool);
        ProjectBackward(l, LinearTarget.FfnUp, ds.Ln2.Of(d), w.FfnUp.Of(g), default, ds.Up.Of(d), s.Ln2.Of(a), w.FfnUp.Of(p), N, C, F, pool);
        // forward: ln2 = rmsnorm(xattn) * ffn_norm
        RmsNorm.Backward(ds.XAttn.Of(d), w.FfnNorm.Of(g), ds.Ln2.Of(d), s.XAttn.Of(a), w.FfnNorm.Of(p), s.Ln2Rstd.Of(a), N, C);
        // forward: xattn = x + atty Woᵀ
        AddInPlace(dinput.Of(d), ds.XAttn.Of(d));
        ProjectBackward(l, LinearTarget.AttnOutput, ds.AttY.Of(d), w.AttnOutput.Of(g), default, ds.XAttn.Of(d), s.AttY.Of(a), w.AttnOutput.Of(p), N, Q, C, pool);
        // forward: atty = softmax(qrope krope ᵀ / sqrt(D)) v
        Attention.Backward(ds.QRope.Of(d), ds.KRope.Of(d), ds.V.Of(d), ds.AttY.Of(d), s.QRope.Of(a), s.KRope.Of(a), s.V.Of(a), s.Att.Of(a),
            B, T, Hq, Hkv, D, pool);
        bool qkNorm = w.AttnQNorm is not null && w.AttnKNorm is not null;
        var dqIn = qkNorm ? ds.QNormed : ds.Q;
        var dkIn = qkNorm ? ds.KNormed : ds.K;
        // forward: qrope = rope(q), krope = rope(k)
        Rope.Backward(dqIn.Of(d), ds.QRope.Of(d), Acts.RopeCos, Acts.RopeSin, B, T, Hq, D, c.RopeDimensions, c.RopeNeox);
        Rope.Backward(dkIn.Of(d), ds.KRope.Of(d), Acts.RopeCos, Acts.RopeSin, B, T, Hkv, D, c.RopeDimensions, c.RopeNeox);
        if (qkNorm)
        {
            // forward: qnormed = rmsnorm(q per head) * q_norm; knormed likewise
            RmsNorm.Backward(ds.Q.Of(d), w.AttnQNorm!.Of(g), ds.QNormed.Of(d), s.Q.Of(a), w.AttnQNorm.Of(p), s.QRstd.Of(a), N * Hq, D);
            RmsNorm.Backward(ds.K.Of(d), w.AttnKNorm!.Of(g), ds.KNormed.Of(d), s.K.Of(a), w.AttnKNorm.Of(p), s.KRstd.Of(a), N * Hkv, D);
        }
        // forward: q, k, v = ln1 Wqᵀ + bq, ln1 Wkᵀ + bk, ln1 Wvᵀ + bv
        ProjectBackward(l, LinearTarget.AttnQ, ds.Ln1.Of(d), w.AttnQ.Of(g), BiasGrad(w.AttnQBias), ds.Q.Of(d), s.Ln1.Of(a), w.AttnQ.Of(p), N, C, Q, pool);
        ProjectBackward(l, LinearTarget.AttnK, ds.Ln1.Of(d), w.AttnK.Of(g), BiasGrad(w.AttnKBias), ds.K.Of(d), s.Ln1.Of(a), w.AttnK.Of(p), N, C, KV, pool);
        ProjectBackward(l, LinearTarget.AttnV, ds.Ln1.Of(d), w.AttnV.Of(g), BiasGrad(w.AttnVBias), ds.V.Of(d), s.Ln1.Of(a), w.AttnV.Of(p), N, C, KV, pool);
        // forward: ln1 = rmsnorm(x) * attn_norm
        RmsNorm.Backward(dinput.Of(d), w.AttnNorm.Of(g), ds.Ln1.Of(d), input.Of(a), w.AttnNorm.Of(p), s.Ln1Rstd.Of(a), N, C);
    }

    /// <summary>Hook (LoRA): adds to each block projection's output and input gradient; with FreezeBase, no
    /// gradient is computed for the matrices (the norms' small gradients still are, and are ignored).</summary>
    public ILinearHook? LinearHook { get; set; }

    /// <summary>Hook (QLoRA): projections whose frozen weight is held elsewhere (quantized), not in Parameters.</summary>
    public IFrozenProjections? FrozenProjections { get; set; }

    void Project(int l, LinearTarget target, Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int N, int C, int OC, WorkerPool? pool)
    {
        if (FrozenProjections is { } f && f.Holds(l, target))
        {
            f.Forward(l, target, output, input, N, C, OC, pool);
            if (!bias.IsEmpty)
                for (int n = 0; n < N; n++) AddInPlace(output.Slice(n * OC, OC), bias);
        }
        else Linear.Forward(output, input, weight, bias, N, C, OC, pool);
        LinearHook?.Forward(l, target, output, input, N, C, OC, pool);
    }

    void ProjectBackward(int l, LinearTarget target, Span<float> dinp, Span<float> dweight, Span<float> dbias, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int N, int C, int OC, WorkerPool? pool)
    {
        if (FrozenProjections is { } f && f.Holds(l, target)) f.BackwardInput(l, target, dinp, dout, N, C, OC, pool);
        else if (LinearHook is { FreezeBase: true }) FrozenLinear.BackwardInput(dinp, dout, weight, N, C, OC, pool);
        else Linear.Backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC, pool);
        LinearHook?.Backward(l, target, dinp, dout, inp, N, C, OC, pool);
    }

    /// <summary>Sets every parameter gradient to zero.</summary>
    public void ZeroGrad() => Array.Clear(Parameters.Grad);

    Span<float> Bias(ParameterTensor? t) => t is null ? default : t.Of(Parameters.Data);
    Span<float> BiasGrad(ParameterTensor? t) => t is null ? default : t.Of(Parameters.Grad);

    static void AddInPlace(Span<float> y, ReadOnlySpan<float> x) => System.Numerics.Tensors.TensorPrimitives.Add(y, x, y);
}
