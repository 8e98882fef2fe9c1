// llama.cpp's side of run-one, through LLamaSharp: the model memory-mapped (llama.cpp's default; with
// --llamacpp-mmap 0 read into memory, LLamaSharp's default), n_batch = n_ubatch = 512, its default F16 KV
// cache and its own flash-attention choice (left at the default), the same random prompt and the same
// greedy loop as EdgeLM. Prefill repeats clear the KV cache; decode
// repeats remove positions from DecodeStart on, the same rewind EdgeLM does.
using System.Diagnostics;
using System.Numerics.Tensors;
using LLama;
using LLama.Common;
using LLama.Native;

namespace EdgeLM.Bench;

public static class LlamaCppRunner
{
    public const int NBatch = 512;
    const int WarmupDecodeTokens = 8;

    public static RunOneResult Run(RunOneOptions o)
    {
        NativeApi.llama_empty_call();
        var p = new ModelParams(o.Model)
        {
            ContextSize = (uint)o.ContextLength,
            BatchSize = NBatch,
            UBatchSize = NBatch,
            Threads = o.Threads,
            BatchThreads = o.Threads,
            GpuLayerCount = 0,
            LoadMode = o.PeerMmap ? LLamaLoadMode.MemoryMap : LLamaLoadMode.None,
        };
        var sw = Stopwatch.StartNew();
        using var weights = LLamaWeights.LoadFromFile(p);
        using var ctx = weights.CreateContext(p);
        double loadMs = sw.Elapsed.TotalMilliseconds;
        int vocab = weights.Vocab.Count;
        var prompt = o.Tokens(o.Prompt, vocab, salt: 1);
        var decodePrompt = o.Tokens(o.DecodeStart, vocab, salt: 2);
        var batch = new LLamaBatch();

        ctx.NativeHandle.MemoryClear(true);
        Prefill(ctx, batch, prompt);
        DecodeLoop(ctx, batch, ArgMax(ctx, batch), o.Prompt, new int[WarmupDecodeTokens]);

        var prefill = new double[o.Repeats];
        for (int r = 0; r < o.Repeats; r++)
        {
            ctx.NativeHandle.MemoryClear(true);
            sw.Restart();
            Prefill(ctx, batch, prompt);
            prefill[r] = o.Prompt / sw.Elapsed.TotalSeconds;
        }

        ctx.NativeHandle.MemoryClear(true);
        Prefill(ctx, batch, decodePrompt);
        int first = ArgMax(ctx, batch);
        var decoded = new int[o.Decode];
        var decode = new double[o.Repeats];
        for (int r = 0; r < o.Repeats; r++)
        {
            ctx.NativeHandle.MemorySequenceRemove(LLamaSeqId.Zero, o.DecodeStart, -1);
            sw.Restart();
            DecodeLoop(ctx, batch, first, o.DecodeStart, decoded);
            decode[r] = o.Decode / sw.Elapsed.TotalSeconds;
        }
        var memory = MemoryUse.Current();

        return new RunOneResult
        {
            Engine = "llamacpp",
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
            Batch = NBatch,
            KvCacheBytes = KvBytesF16(o.Model, o.ContextLength),
            Memory = memory,
            FirstDecodedTokens = decoded[..Math.Min(16, decoded.Length)],
        };
    }

    static void Prefill(LLamaContext ctx, LLamaBatch batch, int[] tokens)
    {
        for (int i = 0; i < tokens.Length; i += NBatch)
        {
            batch.Clear();
            int end = Math.Min(tokens.Length, i + NBatch);
            for (int t = i; t < end; t++) batch.Add(tokens[t], t, LLamaSeqId.Zero, t == tokens.Length - 1);
            Check(ctx.NativeHandle.Decode(batch));
        }
    }

    static void DecodeLoop(LLamaContext ctx, LLamaBatch batch, int token, int pos, int[] output)
    {
        for (int i = 0; i < output.Length; i++)
        {
            batch.Clear();
            batch.Add(token, pos + i, LLamaSeqId.Zero, true);
            Check(ctx.NativeHandle.Decode(batch));
            token = ArgMax(ctx, batch);
            output[i] = token;
        }
    }

    static int ArgMax(LLamaContext ctx, LLamaBatch batch) =>
        TensorPrimitives.IndexOfMax(ctx.NativeHandle.GetLogitsIth(batch.TokenCount - 1));

    static void Check(DecodeResult rc)
    {
        if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {rc}");
    }

    /// <summary>llama.cpp's default KV cache: F16 keys and values, 2 × layers × context × kv_dim × 2 bytes
    /// (read after the memory figures so that opening the file here does not count in them).</summary>
    static long KvBytesF16(string path, int context)
    {
        using var model = Models.DecoderModel.Load(Formats.Gguf.GgufModelSource.Open(path));
        var c = model.Config;
        return 2L * c.BlockCount * context * c.KvDim * 2;
    }
}
