// Picks the next token from logits: penalties → top-k → top-p → min-p → temperature → draw, the
// order of llama.cpp's default sampler chain. All buffers are allocated once per sampler, so
// sampling a token allocates nothing.
using System.Numerics.Tensors;

namespace EdgeLM.Inference;

public sealed class Sampler
{
    readonly SamplingOptions _o;
    readonly float[] _logits;
    readonly int[] _ids;
    readonly int[] _counts;
    readonly Random _rng;

    public Sampler(SamplingOptions options, int vocabSize)
    {
        options.Validate();
        _o = options;
        _logits = new float[vocabSize];
        _ids = new int[vocabSize];
        _counts = new int[vocabSize];
        _rng = options.Seed is int seed ? new Random(seed) : new Random();
    }

    /// <summary>Samples from <paramref name="logits"/>; <paramref name="history"/> is every token so far (for penalties).</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        int n = logits.Length;
        logits.CopyTo(_logits);
        ApplyPenalties(history);
        if (_o.Temperature <= 0) return ArgMax(_logits.AsSpan(0, n));

        for (int i = 0; i < n; i++) _ids[i] = i;
        // Keep the top-k (or all) candidates, sorted by logit, highest first.
        int k = _o.TopK > 0 ? Math.Min(_o.TopK, n) : n;
        SortDescending(_logits.AsSpan(0, n), _ids.AsSpan(0, n), k);
        n = k;
        float max = _logits[0];

        // top-p on the softmax of the remaining candidates (before temperature, as llama.cpp)
        if (_o.TopP < 1)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += Math.Exp(_logits[i] - max);
            double cum = 0;
            for (int i = 0; i < n; i++)
            {
                cum += Math.Exp(_logits[i] - max) / sum;
                if (cum >= _o.TopP) { n = i + 1; break; }
            }
        }
        // min-p: p_i >= min_p * p_max  ⇔  logit_i >= max + ln(min_p)
        if (_o.MinP > 0)
        {
            float threshold = max + MathF.Log(_o.MinP);
            int kept = 1;
            while (kept < n && _logits[kept] >= threshold) kept++;
            n = kept;
        }
        // temperature, then draw from the softmax
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            double p = Math.Exp((_logits[i] - max) / _o.Temperature);
            _logits[i] = (float)p;
            total += p;
        }
        double r = _rng.NextDouble() * total;
        for (int i = 0; i < n; i++)
        {
            r -= _logits[i];
            if (r <= 0) return _ids[i];
        }
        return _ids[n - 1];
    }

    void ApplyPenalties(ReadOnlySpan<int> history)
    {
        if (_o.PenaltyLastN == 0 || (_o.RepeatPenalty == 1 && _o.PresencePenalty == 0 && _o.FrequencyPenalty == 0)) return;
        var window = history[Math.Max(0, history.Length - _o.PenaltyLastN)..];
        foreach (int t in window) if ((uint)t < (uint)_counts.Length) _counts[t]++;
        foreach (int t in window)
        {
            if ((uint)t >= (uint)_counts.Length || _counts[t] == 0) continue;
            int c = _counts[t];
            float l = _logits[t];
            l = l > 0 ? l / _o.RepeatPenalty : l * _o.RepeatPenalty;
            _logits[t] = l - c * _o.FrequencyPenalty - _o.PresencePenalty;
            _counts[t] = 0; // each distinct token is penalised once
        }
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>Moves the k largest keys (with their ids) to the front, sorted descending.</summary>
    static void SortDescending(Span<float> keys, Span<int> ids, int k)
    {
        if (k < keys.Length)
        {
            // Quickselect the k-th largest to position k-1, then sort only the front.
            int lo = 0, hi = keys.Length - 1;
            while (lo < hi)
            {
                float pivot = keys[(lo + hi) >>> 1];
                int i = lo, j = hi;
                while (i <= j)
                {
                    while (keys[i] > pivot) i++;
                    while (keys[j] < pivot) j--;
                    if (i <= j)
                    {
                        (keys[i], keys[j]) = (keys[j], keys[i]);
                        (ids[i], ids[j]) = (ids[j], ids[i]);
                        i++; j--;
                    }
                }
                if (k - 1 <= j) hi = j;
                else if (k - 1 >= i) lo = i;
                else break;
            }
        }
        var front = keys[..k];
        var frontIds = ids[..k];
        // Negate, sort ascending with the default comparer (a Comparison delegate would allocate), negate back.
        TensorPrimitives.Negate(front, front);
        front.Sort(frontIds);
        TensorPrimitives.Negate(front, front);
    }
}
