// Cross-entropy through a frozen output head held quantized, over tiles of the vocabulary: the
// logits of 64 vocabulary rows for all N positions at a time, with a running (online) log-sum-exp
// per position (Milakov & Gimelshein 2018, "Online normalizer calculation for softmax"), so neither
// an (N, V) nor a (rows, V) logits buffer exists, and the head is dequantized once per pass instead
// of once per chunk of rows. The backward pass recomputes each tile and forms its gradient in place.
// Part of QuantizedProjections (its tiles and buffers); not a general cross-entropy (see Layers).
// Legend: N = B·T rows, C = n_embd, V = vocabulary, R = tile rows.
using System.Numerics.Tensors;
using EdgeLM.Models;
using EdgeLM.Training.Layers;
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training.Lora;

public sealed partial class QuantizedProjections
{
    public double OutputLoss(Span<float> losses, ReadOnlySpan<float> input, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask, int N, int C, int V, WorkerPool? pool)
    {
        var e = _output!;
        var max = _rowMax.AsSpan(0, N);
        var sum = _rowSum.AsSpan(0, N);
        max.Fill(float.NegativeInfinity);
        sum.Clear();
        for (int o = 0; o < V; o += TileRows)
        {
            int R = Math.Min(TileRows, V - o);
            var y = TileLogits(e, input, o, R, N, C, pool);
            for (int n = 0; n < N; n++)
            {
                var row = y.Slice(n * R, R);
                float m = Math.Max(max[n], TensorPrimitives.Max(row));
                // sum is relative to the running maximum; rescale it when the maximum grows
                var ex = _exp.AsSpan(0, R);
                TensorPrimitives.Subtract(row, m, ex);
                TensorPrimitives.Exp(ex, ex);
                (max[n], sum[n]) = (m, sum[n] * Math.Exp(max[n] - m) + TensorPrimitives.Sum(ex));
                int t = targets[n] - o;
                if ((uint)t < (uint)R) _targetLogit[n] = row[t];
            }
        }
        double total = 0;
        for (int n = 0; n < N; n++)
        {
            _rowLse[n] = (float)(max[n] + Math.Log(sum[n]));
            losses[n] = mask[n] ? _rowLse[n] - _targetLogit[n] : 0f;
            total += losses[n];
        }
        return total;
    }

    public void OutputLossBackward(Span<float> dinput, ReadOnlySpan<float> input, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask, float scale,
        int N, int C, int V, WorkerPool? pool)
    {
        var e = _output!;
        for (int o = 0; o < V; o += TileRows)
        {
            int R = Math.Min(TileRows, V - o);
            var y = TileLogits(e, input, o, R, N, C, pool);
            // forward: loss = mean over masked n of (lse[n] - logits[n, target]) ⇒ dlogits = (exp(logits - lse) - onehot) · scale
            for (int n = 0; n < N; n++)
            {
                var row = y.Slice(n * R, R);
                if (!mask[n] || scale == 0)
                {
                    row.Clear();
                    continue;
                }
                TensorPrimitives.Subtract(row, _rowLse[n], row);
                TensorPrimitives.Exp(row, row);
                TensorPrimitives.Multiply(row, scale, row);
                int t = targets[n] - o;
                if ((uint)t < (uint)R) row[t] -= scale;
            }
            // The tile is still in _tile: dx += dy (N, R) · Wtile (R, C)
            FrozenLinear.BackwardInput(dinput, y, _tile.AsSpan(0, R * C), N, C, R, pool);
        }
    }

    /// <summary>Logits (N, R) of vocabulary rows [o, o + R), in the tile-output buffer; the rows stay dequantized in the tile.</summary>
    Span<float> TileLogits(TensorEntry e, ReadOnlySpan<float> input, int o, int R, int N, int C, WorkerPool? pool)
    {
        var tile = Dequantize(e, o, R, C);
        var y = _tileOut.AsSpan(0, N * R);
        Linear.Forward(y, input, tile, default, N, C, R, pool);
        return y;
    }
}
