// llama.cpp (through LLamaSharp) running a base GGUF with a GGUF LoRA adapter applied
// (llama_adapter_lora_init + llama_set_adapter_lora, LLamaSharp's LoadLoraFromFile / SetLoraAdapters),
// with F32 keys and values and no flash attention, as LlamaCppOracle does for plain models.
using LLama;
using LLama.Common;
using LLama.Native;

namespace EdgeLM.Tests.Training.Lora;

public static class LlamaCppLora
{
    static readonly Lock Gate = new();

    /// <summary>Logits of every position (T, V) after decoding <paramref name="tokens"/> in one batch, with
    /// the adapter at <paramref name="adapterPath"/> applied at <paramref name="scale"/> (none when null).</summary>
    public static float[][] Logits(string path, string? adapterPath, IReadOnlyList<int> tokens, float scale = 1f, int context = 128)
    {
        lock (Gate)
        {
            NativeApi.llama_empty_call();
            var p = new ModelParams(path)
            {
                ContextSize = (uint)context,
                BatchSize = (uint)context,
                UBatchSize = (uint)context,
                Threads = 2,
                GpuLayerCount = 0,
                TypeK = GGMLType.GGML_TYPE_F32,
                TypeV = GGMLType.GGML_TYPE_F32,
                FlashAttention = false,
                LoadMode = LLamaLoadMode.MemoryMap,
            };
            using var weights = LLamaWeights.LoadFromFile(p);
            using var ctx = weights.CreateContext(p);
            if (adapterPath is not null)
            {
                var adapter = weights.NativeHandle.LoadLoraFromFile(adapterPath);
                ctx.NativeHandle.SetLoraAdapters([(adapter, scale)]);
            }
            var batch = new LLamaBatch();
            for (int i = 0; i < tokens.Count; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
            var rc = ctx.NativeHandle.Decode(batch);
            if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {rc}");
            var result = new float[tokens.Count][];
            for (int i = 0; i < tokens.Count; i++) result[i] = ctx.NativeHandle.GetLogitsIth(i).ToArray();
            return result;
        }
    }
}
