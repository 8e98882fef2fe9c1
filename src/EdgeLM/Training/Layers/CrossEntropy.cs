// Training layer: softmax + cross-entropy over the vocabulary, averaged over the positions the mask
// selects (prompt tokens or padding can be excluded). The backward pass uses the fused form
// dlogits = (p - onehot(target)) · dloss / count. Log-sum-exp is taken with the maximum subtracted.
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
}
