// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019; the update PyTorch's
// torch.optim.AdamW performs): the weight decay shrinks the parameter directly, outside the adaptive
// step, and the moment estimates are bias-corrected. Decay applies to matrices only; norm weights and
// biases are not decayed (as in GPT-2 / llm.c). State is two arrays of the parameter layout.
using System.Numerics.Tensors;

namespace EdgeLM.Training;

/// <summary>AdamW hyper-parameters; the defaults are llm.c's for small GPT-style models.</summary>
public sealed record AdamWOptions
{
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    public float Eps { get; init; } = 1e-8f;
    /// <summary>Decoupled decay per unit learning rate (θ ← θ − lr·λ·θ), matrices only.</summary>
    public float WeightDecay { get; init; } = 0.1f;
}

public sealed class AdamW
{
    readonly TransformerParameters _p;
    readonly float[] _m;
    readonly float[] _v;

    public AdamW(TransformerParameters parameters, AdamWOptions options)
    {
        _p = parameters;
        Options = options;
        _m = new float[parameters.Count];
        _v = new float[parameters.Count];
    }

    public AdamWOptions Options { get; }
    /// <summary>Updates taken so far (t in the bias corrections).</summary>
    public int StepCount { get; private set; }
    /// <summary>First and second moment estimates, in the parameter layout (what a checkpoint saves).</summary>
    public Span<float> M => _m;
    public Span<float> V => _v;

    /// <summary>Sets the update count after M and V were restored from a checkpoint.</summary>
    public void Restore(int stepCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        StepCount = stepCount;
    }

    /// <summary>One update of every parameter from Parameters.Grad with learning rate <paramref name="lr"/>.</summary>
    public void Step(float lr)
    {
        StepCount++;
        var tensors = _p.Tensors;
        for (int i = 0; i < tensors.Count; i++) // indexed: an interface foreach would allocate an enumerator
        {
            var t = tensors[i];
            float decay = t.IsMatrix ? Options.WeightDecay : 0f;
            Update(t.Of(_p.Data), t.Of(_p.Grad), _m.AsSpan(t.Offset, t.Length), _v.AsSpan(t.Offset, t.Length), lr, decay, StepCount, Options);
        }
    }

    /// <summary>The update on one tensor: m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
    /// θ ← θ − lr (m̂ / (sqrt(v̂) + ε) + λ θ), m̂ = m / (1−β1^t), v̂ = v / (1−β2^t).</summary>
    public static void Update(Span<float> param, ReadOnlySpan<float> grad, Span<float> m, Span<float> v, float lr, float weightDecay,
        int t, AdamWOptions o)
    {
        float c1 = 1f / (1f - MathF.Pow(o.Beta1, t)), c2 = 1f / (1f - MathF.Pow(o.Beta2, t));
        for (int i = 0; i < param.Length; i++)
        {
            float g = grad[i];
            float mi = m[i] = o.Beta1 * m[i] + (1f - o.Beta1) * g;
            float vi = v[i] = o.Beta2 * v[i] + (1f - o.Beta2) * g * g;
            float mhat = mi * c1, vhat = vi * c2;
            param[i] -= lr * (mhat / (MathF.Sqrt(vhat) + o.Eps) + weightDecay * param[i]);
        }
    }
}

/// <summary>Gradient utilities over the whole parameter set.</summary>
public static class Gradients
{
    /// <summary>sqrt(Σ g²) over every gradient, summed in double.</summary>
    public static double GlobalNorm(ReadOnlySpan<float> grad)
    {
        double s = 0;
        const int Chunk = 4096;
        // Sum F32 chunks with the vector kernel, then accumulate the chunk sums in double.
        for (int i = 0; i < grad.Length; i += Chunk)
            s += TensorPrimitives.SumOfSquares(grad.Slice(i, Math.Min(Chunk, grad.Length - i)));
        return Math.Sqrt(s);
    }

    /// <summary>Scales the gradients so their global norm is at most <paramref name="maxNorm"/>; returns
    /// the norm before clipping (PyTorch's clip_grad_norm_).</summary>
    public static double ClipByGlobalNorm(Span<float> grad, double maxNorm)
    {
        double norm = GlobalNorm(grad);
        if (norm > maxNorm && norm > 0)
            TensorPrimitives.Multiply(grad, (float)(maxNorm / norm), grad);
        return norm;
    }
}
