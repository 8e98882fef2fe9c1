// EdgeLM's side of run-one: load, prefill in micro-batches of MaxBatch, then greedy decode one
// token per Forward. Decode repeats share one filled cache and rewind Position to DecodeStart, which
// is the same as a fresh cache (positions past Position are never read) without refilling 2048
// tokens per repeat in --long mode. Also checks that the timed decode allocates nothing.
using System.Diagnostics;
using EdgeLM.Inference;
using EdgeLM.Kernels;
using EdgeLM.Models;

namespace EdgeLM.Bench;

public static class EdgeLmRunner
{
    const int WarmupDecodeTokens = 8;

    public static RunOneResult Run(RunOneOptions o)
    {
        var sw = Stopwatch.StartNew();
        // Loaded as a user loads it (tokenizer included), so load time and memory are the real ones.
        using var language = LanguageModel.Load(o.Model);
        var model = language.Decoder;
        using var pool = new WorkerPool(o.Threads);
        using var s = new DecoderState(model.Config, model.Weights, o.ContextLength, o.MaxBatch, pool);
        double loadMs = sw.Elapsed.TotalMilliseconds;
        int vocab = model.Config.VocabSize;
        var prompt = o.Tokens(o.Prompt, vocab, salt: 1);
        var decodePrompt = o.Tokens(o.DecodeStart, vocab, salt: 2);

        // Warm-up: every code path once (a full prompt, a few decode steps), not timed.
        s.Position = 0;
        Prefill(model, s, prompt);
        DecodeLoop(model, s, Sampler.ArgMax(s.Logits), new int[WarmupDecodeTokens]);

        var prefill = new double[o.Repeats];
        for (int r = 0; r < o.Repeats; r++)
        {
            s.Position = 0;
            sw.Restart();
            Prefill(model, s, prompt);
            prefill[r] = o.Prompt / sw.Elapsed.TotalSeconds;
        }

        s.Position = 0;
        Prefill(model, s, decodePrompt);
        int first = Sampler.ArgMax(s.Logits);
        var decoded = new int[o.Decode];
        var decode = new double[o.Repeats];
        var allocated = new long[o.Repeats];
        for (int r = 0; r < o.Repeats; r++)
        {
            s.Position = o.DecodeStart;
            long before = GC.GetAllocatedBytesForCurrentThread();
            sw.Restart();
            DecodeLoop(model, s, first, decoded);
            decode[r] = o.Decode / sw.Elapsed.TotalSeconds;
            allocated[r] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        return new RunOneResult
        {
            Engine = "edgelm",
            Model = o.Model,
            Threads = o.Threads,
            LoadMs = loadMs,
            PromptTokens = o.Prompt,
            PrefillTokensPerSecond = Stats.Median(prefill),
            PrefillSamples = prefill,
            DecodeTokens = o.Decode,
            DecodeStart = o.DecodeStart,
            DecodeTokensPerSecond = Stats.Median(decode),
            DecodeSamples = decode,
            Batch = o.MaxBatch,
            KvCacheBytes = s.Cache.Bytes,
            Memory = MemoryUse.Current(),
            DecodeAllocatedBytes = allocated.Sum(),
            DecodeAllocatedPerRepeat = allocated,
            FirstDecodedTokens = decoded[..Math.Min(16, decoded.Length)],
        };
    }

    static void Prefill(DecoderModel model, DecoderState s, int[] tokens)
    {
        for (int i = 0; i < tokens.Length; i += s.MaxBatch)
            model.Forward(s, tokens.AsSpan(i, Math.Min(s.MaxBatch, tokens.Length - i)));
    }

    /// <summary>Feeds <paramref name="token"/>, then each greedy choice, output.Length times.</summary>
    static void DecodeLoop(DecoderModel model, DecoderState s, int token, int[] output)
    {
        Span<int> one = stackalloc int[1];
        for (int i = 0; i < output.Length; i++)
        {
            one[0] = token;
            model.Forward(s, one);
            token = Sampler.ArgMax(s.Logits);
            output[i] = token;
        }
    }
}
