// The engine against llama.cpp on the same GGUF files: logits at every position of a fixed token
// sequence, and 32 greedy tokens, for each architecture.
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Models;

public class LlamaCppParityTests(ITestOutputHelper output)
{
    /// <summary>F32 weights, F32 KV cache on both sides: only summation order differs, so logits
    /// agree to a few parts in 10⁵ of their range.</summary>
    const float F32RelativeTolerance = 1e-4f;

    static readonly int[] Prompt = [RandomModel.Bos, 300, 265, 270, 310, 259, 299, 280, 281, 300, 301, 302, 263, 264, 300, 290];

    public static TheoryData<string> Shapes => new() { "llama", "llama-tied", "qwen2", "qwen3", "llama-rope-linear", "llama-rope-freqs" };

    static RandomModelShape Shape(string name) => name switch
    {
        "llama" => new RandomModelShape("llama"),
        "llama-tied" => new RandomModelShape("llama", Tied: true, Heads: 8, KvHeads: 8, HeadDim: 8),
        "qwen2" => new RandomModelShape("qwen2", Tied: true, RopeBase: 1000000f),
        "qwen3" => new RandomModelShape("qwen3", HeadDim: 32, RopeBase: 1000000f),
        "llama-rope-linear" or "llama-rope-freqs" => new RandomModelShape("llama", RopeBase: 500000f),
        _ => throw new ArgumentException(name),
    };

    /// <summary>Rope scaling as GGUF carries it: linear (a key) or Llama 3's per-dimension divisors (a tensor).</summary>
    static Action<GgufWriter>? Extra(string name) => name switch
    {
        "llama-rope-linear" => w => w.Set("llama.rope.scaling.type", "linear").Set("llama.rope.scaling.factor", 4f),
        "llama-rope-freqs" => w => w.AddTensor("rope_freqs.weight", [1f, 1f, 1.5f, 3f, 8f, 8f, 8f, 8f], 8),
        _ => null,
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void F32_logits_match_llama_cpp(string shape)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, Shape(shape), GgmlType.F32, seed: 7, extra: Extra(shape));

        var ours = EngineHarness.Logits(path, Prompt, maxBatch: 5);
        var theirs = LlamaCppOracle.Logits(path, Prompt);
        var (max, pos, idx, scale) = EngineHarness.Compare(ours, theirs);
        output.WriteLine($"{shape}: max |diff| {max:G4} at position {pos}, token {idx}; logit scale {scale:G4}");
        Assert.True(max <= F32RelativeTolerance * scale,
            $"max |diff| {max} at position {pos}, token {idx}" + (pos >= 0 ? $": ours {ours[pos][idx]}, llama.cpp {theirs[pos][idx]}" : ""));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void F32_greedy_32_tokens_match_llama_cpp(string shape)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, Shape(shape), GgmlType.F32, seed: 11, extra: Extra(shape));
        var ours = EngineHarness.Greedy(path, Prompt, 32);
        var theirs = LlamaCppOracle.Greedy(path, Prompt, 32);
        Assert.Equal(theirs, ours);
    }
}
