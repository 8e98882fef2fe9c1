// llama.cpp, through LLamaSharp, as the reference the engine is checked against (test projects
// only). Keys and values are kept in F32 and flash attention is off, so the comparison measures
// the engine rather than the reference's own F16 rounding (see shared/ORACLE.md).
using LLama;
using LLama.Common;
using LLama.Native;

namespace EdgeLM.Tests.Support;

public static class LlamaCppOracle
{
    static readonly Lock Gate = new();

    static ModelParams Params(string path, int context, GGMLType kvType = GGMLType.GGML_TYPE_F32, bool flashAttention = false) => new(path)
    {
        ContextSize = (uint)context,
        BatchSize = (uint)context,
        UBatchSize = (uint)context,
        Threads = 2,
        GpuLayerCount = 0,
        TypeK = kvType,
        TypeV = kvType,
        FlashAttention = flashAttention,
        LoadMode = LLamaLoadMode.MemoryMap,
    };

    /// <summary>Logits of every position after decoding <paramref name="tokens"/> in one batch: (T, V).</summary>
    /// <summary>With kvType, the KV cache in that type (F32 by default); quantized values need flash attention.
    /// With loraPath, that GGUF LoRA adapter applied at loraScale (llama_adapter_lora_init +
    /// llama_set_adapter_lora, through LLamaSharp's LoadLoraFromFile / SetLoraAdapters).</summary>
    public static float[][] Logits(string path, IReadOnlyList<int> tokens, int context = 256,
        GGMLType kvType = GGMLType.GGML_TYPE_F32, bool flashAttention = false, string? loraPath = null, float loraScale = 1f)
    {
        lock (Gate)
        {
            NativeApi.llama_empty_call();
            var p = Params(path, context, kvType, flashAttention);
            using var weights = LLamaWeights.LoadFromFile(p);
            using var ctx = weights.CreateContext(p);
            if (loraPath is not null)
                ctx.NativeHandle.SetLoraAdapters([(weights.NativeHandle.LoadLoraFromFile(loraPath), loraScale)]);
            var batch = new LLamaBatch();
            for (int i = 0; i < tokens.Count; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
            var rc = ctx.NativeHandle.Decode(batch);
            if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {rc}");
            var result = new float[tokens.Count][];
            for (int i = 0; i < tokens.Count; i++) result[i] = ctx.NativeHandle.GetLogitsIth(i).ToArray();
            return result;
        }
    }

    /// <summary>Greedy decoding of n tokens after the prompt, one token per decode call.</summary>
    public static int[] Greedy(string path, IReadOnlyList<int> prompt, int n, int context = 256) =>
        GreedyWithMargins(path, prompt, n, context).Tokens;

    /// <summary>Greedy decoding, with each step's margin: the best logit minus the second best.</summary>
    public static (int[] Tokens, float[] Margins) GreedyWithMargins(string path, IReadOnlyList<int> prompt, int n, int context = 256)
    {
        lock (Gate)
        {
            NativeApi.llama_empty_call();
            var p = Params(path, context);
            using var weights = LLamaWeights.LoadFromFile(p);
            using var ctx = weights.CreateContext(p);
            var batch = new LLamaBatch();
            for (int i = 0; i < prompt.Count; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Count - 1);
            var output = new int[n];
            var margins = new float[n];
            int pos = prompt.Count;
            for (int k = 0; k < n; k++)
            {
                var rc = ctx.NativeHandle.Decode(batch);
                if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {rc}");
                var logits = ctx.NativeHandle.GetLogitsIth(batch.TokenCount - 1);
                int best = 0;
                for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[best]) best = v;
                float second = float.NegativeInfinity;
                for (int v = 0; v < logits.Length; v++) if (v != best && logits[v] > second) second = logits[v];
                output[k] = best;
                margins[k] = logits[best] - second;
                batch.Clear();
                batch.Add(best, pos++, LLamaSeqId.Zero, true);
            }
            return (output, margins);
        }
    }
}
