// The hook through which the training Transformer takes a block projection's frozen weight from
// somewhere other than its F32 parameter array: QLoRA-style training keeps the base's quantized
// matrices as they are in the mapped GGUF and computes with them (QuantizedProjections). Only the
// forward product and the input gradient are needed: a frozen weight gets no gradient. The token
// embedding (rows looked up) and the output head (logits = x · Woutᵀ, the embedding itself when tied)
// may be held here too.
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training.Lora;

public interface IFrozenProjections
{
    /// <summary>True when this projection's weight is held here (the parameter array's slice is then unused).</summary>
    bool Holds(int layer, LinearTarget target);

    /// <summary>output (N, OC) = input (N, C) · Wᵀ.</summary>
    void Forward(int layer, LinearTarget target, Span<float> output, ReadOnlySpan<float> input, int N, int C, int OC, WorkerPool? pool);

    /// <summary>dinput (N, C) += doutput (N, OC) · W.</summary>
    void BackwardInput(int layer, LinearTarget target, Span<float> dinput, ReadOnlySpan<float> doutput, int N, int C, int OC, WorkerPool? pool);

    /// <summary>True when token_embd is held here: its parameter slice is then empty.</summary>
    bool HoldsEmbedding { get; }

    /// <summary>output (N, C) = token_embd[tokens].</summary>
    void Embed(Span<float> output, ReadOnlySpan<int> tokens, int N, int C);

    /// <summary>True when the output head (output.weight, or token_embd when tied) is held here.</summary>
    bool HoldsOutput { get; }

    /// <summary>logits (N, V) = input (N, C) · Woutᵀ.</summary>
    void OutputForward(Span<float> logits, ReadOnlySpan<float> input, int N, int C, int V, WorkerPool? pool);

    /// <summary>dinput (N, C) += dlogits (N, V) · Wout.</summary>
    void OutputBackwardInput(Span<float> dinput, ReadOnlySpan<float> dlogits, int N, int C, int V, WorkerPool? pool);

    /// <summary>losses (N) = logsumexp(logits[n]) - logits[n, target] where mask is set (else 0), for the held head's
    /// logits of input (N, C), computed over tiles of the vocabulary; keeps each row's log-sum-exp for
    /// OutputLossBackward. Returns the sum of the losses.</summary>
    double OutputLoss(Span<float> losses, ReadOnlySpan<float> input, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask, int N, int C, int V, WorkerPool? pool);

    /// <summary>dinput (N, C) += ((softmax(logits) - onehot(target)) · scale where mask is set) · Wout, with the
    /// log-sum-exp kept by the last OutputLoss on the same input.</summary>
    void OutputLossBackward(Span<float> dinput, ReadOnlySpan<float> input, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask, float scale,
        int N, int C, int V, WorkerPool? pool);
}
