// Every activation a training step keeps for the backward pass, in one float array, and their
// gradients in a second of the same layout (llm.c's ActivationTensors). Sized once for a batch of
// B sequences of T tokens; a step allocates nothing. Two options bound the memory on long batches:
// activation checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost") keeps
// only each block's input and one block's worth of activations, which every block shares and the
// backward pass refills by recomputing that block's forward; and the logits are computed LogitRows
// rows at a time into one (LogitRows, V) buffer, outside the gradient array, instead of (N, V) twice.
// Checkpointed, the gradients live in the same array as the activations with a layout of their own:
// only the block being back-propagated has gradients, one (N, C) residual gradient serves every block
// input, buffers whose gradient is never read (rstd, attention weights) get none, and the FFN's gate
// and up gradients overwrite the gate and up activations they are computed from (SwiGlu.BackwardInPlace).
// Legend: B = batch, T = time, N = B·T, C = n_embd, Hq/Hkv = heads, D = head size, F = FFN width, V = vocab.
namespace EdgeLM.Training;

/// <summary>A slice of the activation (or activation-gradient) array.</summary>
public readonly record struct ActivationBuffer(int Offset, int Length)
{
    public Span<float> Of(float[] storage) => storage.AsSpan(Offset, Length);
}

/// <summary>One block's saved activations. The residual stream after attention (XAttn) and after the
/// FFN (XFfn) hold the projection output plus the incoming residual.</summary>
public sealed record LayerActivations(
    ActivationBuffer Ln1, ActivationBuffer Ln1Rstd,                  // (N, C), (N)
    ActivationBuffer Q, ActivationBuffer K, ActivationBuffer V,                // (N, Hq·D), (N, Hkv·D), (N, Hkv·D), after bias
    ActivationBuffer QNormed, ActivationBuffer QRstd,                // (N, Hq·D), (N·Hq): qwen3 only, else empty
    ActivationBuffer KNormed, ActivationBuffer KRstd,                // (N, Hkv·D), (N·Hkv): qwen3 only, else empty
    ActivationBuffer QRope, ActivationBuffer KRope,                  // (N, Hq·D), (N, Hkv·D)
    ActivationBuffer Att, ActivationBuffer AttY, ActivationBuffer XAttn,       // (B, Hq, T, T), (N, Hq·D), (N, C)
    ActivationBuffer Ln2, ActivationBuffer Ln2Rstd,                  // (N, C), (N)
    ActivationBuffer Gate, ActivationBuffer Up, ActivationBuffer Swi,          // (N, F) each
    ActivationBuffer XFfn);                                // (N, C)

/// <summary>How activations are kept. Defaults: every activation kept, logits for all N rows at once.</summary>
public sealed record ActivationOptions
{
    /// <summary>Keep only each block's input and recompute the block's forward during the backward pass:
    /// one block's activations instead of L, for about one more forward pass of the blocks.</summary>
    public bool Checkpoint { get; init; }
    /// <summary>Rows of logits computed at once (0: all N). Fewer than N means the backward pass recomputes
    /// the logits chunk by chunk, and Transformer.Logits is unavailable.</summary>
    public int LogitRows { get; init; }
    /// <summary>With an output head held by FrozenProjections: the loss and its gradient are computed over
    /// tiles of the vocabulary (an online log-sum-exp), so no logits buffer exists at all.</summary>
    public bool VocabTiledLoss { get; init; }
}

public sealed class TransformerActivations
{
    int _count;
    readonly ActivationBuffer[] _inputs;   // (L + 1) × (N, C): block l's input; [L] is the last block's output
    readonly LayerActivations? _blockGrad; // checkpointed: the shared block's gradients
    readonly ActivationBuffer _residualGrad, _lnFGrad, _blockGradRun;

    public TransformerActivations(TransformerConfig config, int B, int T, ActivationOptions? options = null)
    {
        var c = config.Model;
        int N = B * T, C = c.EmbeddingLength, Q = c.QueryDim, KV = c.KvDim, F = c.FeedForwardLength;
        (this.B, this.T) = (B, T);
        Options = options ?? new ActivationOptions();
        if (Options.LogitRows < 0) throw new ArgumentOutOfRangeException(nameof(options), $"LogitRows {Options.LogitRows} must not be negative");
        bool checkpoint = Options.Checkpoint && c.BlockCount > 0;
        Encoded = Add(N * C);
        _inputs = new ActivationBuffer[c.BlockCount + 1];
        _inputs[0] = Encoded;
        if (checkpoint)
            for (int l = 1; l <= c.BlockCount; l++) _inputs[l] = Add(N * C);
        var layers = new LayerActivations[c.BlockCount];
        for (int i = 0; i < layers.Length; i++)
            layers[i] = checkpoint && i > 0 ? layers[0] : AddLayer(config, N, grad: false, inPlaceFfn: default);
        Layers = layers;
        if (!checkpoint)
            for (int l = 1; l <= c.BlockCount; l++) _inputs[l] = layers[l - 1].XFfn;
        Checkpointed = checkpoint;
        LnF = Add(N * C);
        LnFRstd = Add(N);
        Losses = Add(N);
        if (checkpoint)
        {
            // The gradients' own layout, after the activations in the same array: one block's, the final
            // norm's input, and one residual stream's gradient for every block input.
            int start = _count;
            _blockGrad = AddLayer(config, N, grad: true, inPlaceFfn: layers[0]);
            _blockGradRun = new ActivationBuffer(start, _count - start);
            _lnFGrad = Add(N * C);
            _residualGrad = Add(N * C);
        }
        else _lnFGrad = LnF;
        LogitRows = Options.VocabTiledLoss ? 0 : Options.LogitRows == 0 ? N : Math.Min(Options.LogitRows, N);
        Logits = GC.AllocateArray<float>(checked(LogitRows * c.VocabSize), pinned: true);
        int half = c.RopeDimensions / 2;
        RopeCos = new float[T * half];
        RopeSin = new float[T * half];
        EdgeLM.Training.Layers.Rope.Tables(RopeCos, RopeSin, T, c.RopeDimensions, c.RopeFreqBase, c.RopeFreqScale);
        Data = GC.AllocateArray<float>(_count, pinned: true);
        Grad = checkpoint ? Data : GC.AllocateArray<float>(_count, pinned: true);
    }

    public int B { get; }
    public int T { get; }
    public ActivationOptions Options { get; }
    /// <summary>True when the blocks share one set of activations (Options.Checkpoint with at least one block).</summary>
    public bool Checkpointed { get; }
    /// <summary>Rows of <see cref="Logits"/>: N, or Options.LogitRows when fewer, or 0 with VocabTiledLoss.</summary>
    public int LogitRows { get; }
    public float[] Data { get; }
    /// <summary>The gradients: a second array of Data's layout, or, when checkpointed, Data itself (the gradient
    /// buffers then have their own offsets: <see cref="LayerGradients"/>, <see cref="InputGradient"/>, <see cref="LnFGradient"/>).</summary>
    public float[] Grad { get; }
    /// <summary>RoPE tables for positions 0..T-1, (T, R/2) each.</summary>
    public float[] RopeCos { get; }
    public float[] RopeSin { get; }
    /// <summary>Floats held for activations and their gradients together.</summary>
    public long Floats => Data.LongLength + (ReferenceEquals(Grad, Data) ? 0 : Grad.LongLength) + Logits.LongLength;

    public ActivationBuffer Encoded { get; }                       // (N, C)
    /// <summary>Block <paramref name="l"/>'s input (N, C); l = L is the last block's output.</summary>
    public ActivationBuffer LayerInput(int l) => _inputs[l];
    /// <summary>Each block's activations; when checkpointed, every entry is the same shared set.</summary>
    public IReadOnlyList<LayerActivations> Layers { get; }
    public ActivationBuffer LnF { get; }                           // (N, C)
    public ActivationBuffer LnFRstd { get; }                       // (N)
    public ActivationBuffer Losses { get; }                        // (N)
    /// <summary>(LogitRows, V), its own array: logits, turned in place into their gradient by the backward pass.</summary>
    public float[] Logits { get; }

    /// <summary>Where block <paramref name="l"/>'s activation gradients are, in <see cref="Grad"/>. Checkpointed: one
    /// shared set, whose Gate and Up are the activations' own (the gradient replaces the value) and whose
    /// Ln1Rstd, QRstd, KRstd, Att and Ln2Rstd are empty (never read).</summary>
    public LayerActivations LayerGradients(int l) => Checkpointed ? _blockGrad! : Layers[l];
    /// <summary>The gradient of block <paramref name="l"/>'s input (N, C) (l = L: the last block's output); checkpointed,
    /// one buffer for all, which the backward pass hands from block to block.</summary>
    public ActivationBuffer InputGradient(int l) => Checkpointed ? _residualGrad : _inputs[l];
    public ActivationBuffer LnFGradient => _lnFGrad;               // (N, C)

    /// <summary>Sets every activation gradient to zero (not the activations, which share the array when checkpointed).</summary>
    public void ClearGradients()
    {
        if (!Checkpointed) Array.Clear(Grad);
        else Grad.AsSpan(_blockGradRun.Offset, _count - _blockGradRun.Offset).Clear();
    }

    /// <summary>Checkpointed: zeroes the shared block's gradients (all but Gate and Up, which the backward pass assigns).</summary>
    public void ClearBlockGradients() => _blockGradRun.Of(Grad).Clear();

    /// <summary>One block's buffers. For gradients (<paramref name="grad"/>), buffers nothing reads the gradient of
    /// are empty, and gate and up are those of <paramref name="inPlaceFfn"/>.</summary>
    LayerActivations AddLayer(TransformerConfig config, int N, bool grad, LayerActivations? inPlaceFfn)
    {
        var c = config.Model;
        int B = N / T, C = c.EmbeddingLength, Q = c.QueryDim, KV = c.KvDim, F = c.FeedForwardLength;
        bool qk = config.QkNorm;
        int g = grad ? 0 : 1;   // multiplies the sizes of value-only buffers
        return new LayerActivations(
            Add(N * C), Add(g * N), Add(N * Q), Add(N * KV), Add(N * KV),
            Add(qk ? N * Q : 0), Add(qk ? g * N * c.HeadCount : 0), Add(qk ? N * KV : 0), Add(qk ? g * N * c.HeadCountKv : 0),
            Add(N * Q), Add(N * KV),
            Add(g * B * c.HeadCount * T * T), Add(N * Q), Add(N * C),
            Add(N * C), Add(g * N),
            inPlaceFfn?.Gate ?? Add(N * F), inPlaceFfn?.Up ?? Add(N * F), Add(N * F),
            Add(N * C));
    }

    ActivationBuffer Add(int n)
    {
        var b = new ActivationBuffer(_count, n);
        _count = checked(_count + n);
        return b;
    }
}
