// Training layer: softmax + cross-entropy over the vocabulary, averaged over the positions the mask
// selects (prompt tokens or padding can be excluded). The backward pass uses the fused form
// dlogits = (p - onehot(target)) · dloss / count. Log-sum-exp is taken with the maximum subtracted.
// Forward/Backward keep (N, V) probabilities beside the logits; Losses/GradientInPlace are the
// memory-bounded pair the Transformer uses: they work on any block of rows, and the gradient replaces
// the logits in place, so one (rows, V) buffer is all the vocabulary-wide memory there is.
// Legend: N = B·T positions, V = vocabulary.
namespace EdgeLM.Training.Layers;

public static class CrossEntropy
{
    /// <summary>probs (N, V) = softmax(logits); losses (N) = -log probs[target] where mask is set, else 0.
    /// Returns the mean loss over the masked positions (0 when none is).</summary>
    public static float Forward(Span<float> probs, Span<float> losses, ReadOnlySpan<float> logits, ReadOnlySpan<int> targets,
        ReadOnlySpan<bool> mask, int N, int V)
    {
        double total = 0;
        int count = 0;
        for (int n = 0; n < N; n++)
        {
            var p = probs.Slice(n * V, V);
            logits.Slice(n * V, V).CopyTo(p);
            Kernels.Activations.Softmax(p);
            if (mask[n])
            {
                // log p[target] from the logits, not log(p): probabilities that underflow stay finite.
                double lse = Kernels.Activations.LogSumExp(logits.Slice(n * V, V));
                losses[n] = (float)(lse - logits[n * V + targets[n]]);
                total += losses[n];
                count++;
            }
            else losses[n] = 0;
        }
        return count == 0 ? 0f : (float)(total / count);
    }

    /// <summary>Number of positions the mask selects.</summary>
    public static int Count(ReadOnlySpan<bool> mask)
    {
        int c = 0;
        foreach (bool m in mask) if (m) c++;
        return c;
    }

    /// <summary>dlogits (N, V) += d(mean loss)/dlogits · dloss.</summary>
    public static void Backward(Span<float> dlogits, ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask,
        float dloss, int N, int V)
    {
        int count = Count(mask);
        if (count == 0) return;
        float scale = dloss / count;
        for (int n = 0; n < N; n++)
        {
            if (!mask[n]) continue;
            // forward: loss = mean over masked n of (logsumexp(logits[n]) - logits[n, target])
            var d = dlogits.Slice(n * V, V);
            var p = probs.Slice(n * V, V);
            for (int v = 0; v < V; v++) d[v] += scale * p[v];
            d[targets[n]] -= scale;
        }
    }

    /// <summary>losses (R) = logsumexp(logits[r]) - logits[r, target] where mask is set, else 0, for a block of
    /// R rows of logits (R, V). Returns the sum of the block's losses.</summary>
    public static double Losses(Span<float> losses, ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask, int R, int V)
    {
        double total = 0;
        for (int r = 0; r < R; r++)
        {
            if (!mask[r])
            {
                losses[r] = 0;
                continue;
            }
            var row = logits.Slice(r * V, V);
            losses[r] = (float)(Kernels.Activations.LogSumExp(row) - row[targets[r]]);
            total += losses[r];
        }
        return total;
    }

    /// <summary>Replaces a block of R rows of logits (R, V) by d(loss)/dlogits = (softmax - onehot(target)) · scale,
    /// with scale = dloss / (masked count of the whole batch); rows outside the mask become 0.</summary>
    public static void GradientInPlace(Span<float> logits, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask, float scale, int R, int V)
    {
        for (int r = 0; r < R; r++)
        {
            var d = logits.Slice(r * V, V);
            if (!mask[r] || scale == 0)
            {
                d.Clear();
                continue;
            }
            // forward: loss = mean over masked n of (logsumexp(logits[n]) - logits[n, target])
            Kernels.Activations.Softmax(d);
            System.Numerics.Tensors.TensorPrimitives.Multiply(d, scale, d);
            d[targets[r]] -= scale;
        }
    }
}
