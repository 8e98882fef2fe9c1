// Both run-one engines, in this process, on a small F32 random model: they must produce figures,
// EdgeLM's timed decode must allocate nothing, and both must greedy-decode the same tokens from
// the same prompt (llama.cpp is the oracle that the two engines ran the same model on the same
// input; both keep the KV cache in F16).
using EdgeLM.Bench;
using EdgeLM.Models;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Bench;

public class BenchRunnerTests
{
    [Fact]
    public void Both_engines_measure_the_same_greedy_decode_and_edgelm_allocates_nothing()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, new RandomModelShape("llama", Dim: 128, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: 32, Ffn: 256, Vocab: 512));
        var o = new RunOneOptions("edgelm", path, 1, Prompt: 40, Decode: 12, DecodePrompt: 8, Repeats: 2, MaxBatch: 16);

        var e = EdgeLmRunner.Run(o);
        var l = LlamaCppRunner.Run(o with { Engine = "llamacpp" });

        Assert.Equal(0, e.DecodeAllocatedBytes);
        Assert.Equal(e.FirstDecodedTokens, l.FirstDecodedTokens);
        foreach (var r in new[] { e, l })
        {
            Assert.True(r.PrefillTokensPerSecond > 0 && r.DecodeTokensPerSecond > 0, $"{r.Engine}: no throughput");
            Assert.Equal(2, r.PrefillSamples.Length);
            Assert.True(r.Memory.PeakRssBytes > 0, $"{r.Engine}: no peak RSS");
        }
        // Both caches are F16 over the context both were given: 2 layers × (keys + values) × context × kv_dim × 2 bytes.
        Assert.Equal(2L * 2 * o.ContextLength * 64 * 2, e.KvCacheBytes);
        Assert.Equal(e.KvCacheBytes, l.KvCacheBytes);
    }
}
