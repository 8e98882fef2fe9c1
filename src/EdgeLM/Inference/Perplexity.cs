// Perplexity exactly as llama.cpp's perplexity tool computes it: the token stream is cut into
// non-overlapping chunks of n_ctx tokens, the first token of each chunk is replaced by BOS, the
// chunk is evaluated from an empty cache, and only the second half of each chunk is scored
// (positions n_ctx/2 .. n_ctx-2 predicting the next token), so every scored token has at least
// n_ctx/2 tokens of context. ppl = exp(mean negative log-likelihood).
using EdgeLM.Kernels;
using EdgeLM.Models;

namespace EdgeLM.Inference;

public sealed record PerplexityResult(double Perplexity, int Tokens, int ScoredTokens, int Chunks, double NegativeLogLikelihood);

public static class Perplexity
{
    public static PerplexityResult Compute(DecoderModel model, DecoderState s, IReadOnlyList<int> tokens, int nCtx, int bos,
        IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default)
    {
        if (nCtx < 4) throw new ArgumentException($"context of {nCtx} tokens is too short for perplexity (at least 4)");
        if (nCtx > s.ContextLength) throw new ArgumentException($"context of {nCtx} tokens exceeds the session's {s.ContextLength}");
        int chunks = tokens.Count / nCtx;
        if (chunks == 0)
            throw new ArgumentException($"the text is {tokens.Count} tokens; perplexity needs at least one chunk of --ctx {nCtx} tokens");
        int V = model.Config.VocabSize, B = s.MaxBatch;
        var logits = new float[B * V];
        var chunk = new int[nCtx];
        double nll = 0;
        int scored = 0, first = nCtx / 2;
        for (int c = 0; c < chunks; c++)
        {
            cancel.ThrowIfCancellationRequested();
            for (int i = 0; i < nCtx; i++) chunk[i] = tokens[c * nCtx + i];
            if (bos >= 0) chunk[0] = bos;
            s.Position = 0;
            for (int start = 0; start < nCtx; start += B)
            {
                int T = Math.Min(B, nCtx - start);
                model.Forward(s, chunk.AsSpan(start, T), logits);
                for (int t = 0; t < T; t++)
                {
                    int j = start + t;
                    if (j < first || j > nCtx - 2) continue;
                    var row = logits.AsSpan(t * V, V);
                    nll += Activations.LogSumExp(row) - row[tokens[c * nCtx + j + 1]];
                    scored++;
                }
            }
            progress?.Report((c + 1, chunks));
        }
        return new PerplexityResult(Math.Exp(nll / scored), tokens.Count, scored, chunks, nll / scored);
    }
}
