// The engine's F16 and Q8_0 KV caches against llama.cpp's with the same cache types, on the same
// GGUF files: at a typical position the logits agree far more closely than either differs from an
// F32 cache, which shows the rounding is the same rounding, not merely a small one. Medians, not
// maxima: upstream F32 differences of ~1e-7 (summation order) move a few values across an F16
// rounding boundary (one in ~2,000 at that size), and each such flip spreads to later positions.
using EdgeLM.Models;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using LLama.Native;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Models;

public class KvCacheParityTests(ITestOutputHelper output)
{
    static readonly int[] Prompt = [.. Enumerable.Range(0, 96).Select(i => RandomModel.Bos + (i == 0 ? 0 : 3 + (i * 37 % 300)))];

    public static TheoryData<string, string> Cases => new()
    {
        { "llama", "f16" }, { "qwen2", "f16" }, { "llama", "q8_0" }, { "qwen2", "q8_0" },
    };

    static RandomModelShape Shape(string arch) => arch == "qwen2"
        ? new RandomModelShape("qwen2", Dim: 128, Heads: 4, KvHeads: 2, HeadDim: 32, Tied: true, RopeBase: 1000000f)
        : new RandomModelShape("llama", Dim: 128, Heads: 8, KvHeads: 2, HeadDim: 32);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Quantized_cache_logits_match_llama_cpp_with_the_same_cache(string arch, string cache)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, Shape(arch), GgmlType.F32, seed: 11);
        var (ours, theirsType, flash) = cache == "f16"
            ? (GgmlType.F16, GGMLType.GGML_TYPE_F16, false)
            // llama.cpp stores quantized values only with flash attention, which accumulates them in F32.
            : (GgmlType.Q8_0, GGMLType.GGML_TYPE_Q8_0, true);

        var engine = EngineHarness.Logits(path, Prompt, maxBatch: 32, kvType: ours);
        var engineF32 = EngineHarness.Logits(path, Prompt, maxBatch: 32, kvType: GgmlType.F32);
        var oracle = LlamaCppOracle.Logits(path, Prompt, kvType: theirsType, flashAttention: flash);
        double gap = MedianPositionDiff(engine, oracle), rounding = MedianPositionDiff(engine, engineF32);
        output.WriteLine($"{arch} {cache}: median position vs llama.cpp {gap:G3} of the logit range; vs our F32 cache {rounding:G3}");
        Assert.True(gap <= rounding / 4, $"engine vs llama.cpp {gap} is not well below the cache's own rounding effect {rounding}");
    }

    /// <summary>The median over positions of max |a - b| / logit range at that position.</summary>
    static double MedianPositionDiff(float[][] a, float[][] b)
    {
        var d = Enumerable.Range(0, a.Length).Select(t =>
        {
            var (max, _, _, scale) = EngineHarness.Compare([a[t]], [b[t]]);
            return (double)(max / scale);
        }).Order().ToArray();
        return d[d.Length / 2];
    }
}
