// The engine's unmerged LoRA path against the adapter folded into the weights: base + adapter gives
// the merged model's logits (prefill and one-token decode), scale 0 is the base, and two adapters are
// the single adapter of their stacked factors. Merging a quantized base keeps its type.
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Models.Lora;

public class LoraEngineTests(ITestOutputHelper output)
{
    /// <summary>F32 weights both ways: W·x + B(A·x) and (W + B·A)·x differ only in summation order.</summary>
    const float F32RelativeTolerance = 1e-4f;

    static readonly int[] Prompt = [RandomModel.Bos, 300, 265, 270, 310, 259, 299, 280, 281, 300, 301, 302];

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void Base_plus_adapter_equals_the_merged_model(string arch)
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape(arch, HeadDim: arch == "qwen3" ? 32 : 16);
        string basePath = dir.File("base.gguf"), merged = dir.File("merged.gguf");
        RandomModel.Write(basePath, shape, GgmlType.F32, seed: 3);
        var adapter = LoraTestFiles.Random(shape, rank: 4, alpha: 8, seed: 11);
        var adapters = LoraTestFiles.One(adapter, 0.75f);

        using (var model = DecoderModel.Load(ModelSources.Open(basePath)))
            LoraMerger.Write(model, adapters, merged);

        var baseline = EngineHarness.Logits(basePath, Prompt);
        var ours = LoraTestFiles.Logits(basePath, adapters, Prompt, maxBatch: 5);
        var decode = LoraTestFiles.Logits(basePath, adapters, Prompt, maxBatch: 1);
        var folded = EngineHarness.Logits(merged, Prompt);
        AssertClose("prefill vs merged", ours, folded, F32RelativeTolerance);
        AssertClose("decode vs merged", decode, folded, F32RelativeTolerance);
        // The adapter must matter, or the comparisons above prove nothing.
        var (moved, _, _, range) = EngineHarness.Compare(ours, baseline);
        Assert.True(moved > 0.05f * range, $"the adapter moved logits by only {moved} of {range}");
    }

    [Fact]
    public void Scale_zero_is_the_base_and_two_adapters_are_their_sum()
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape("llama");
        string basePath = dir.File("base.gguf");
        RandomModel.Write(basePath, shape, GgmlType.F32, seed: 4);
        var a1 = LoraTestFiles.Random(shape, rank: 2, alpha: 4, seed: 21, "attn_q", "attn_v", "ffn_down");
        var a2 = LoraTestFiles.Random(shape, rank: 3, alpha: 0, seed: 22, "attn_q", "ffn_up", "output");

        var baseline = EngineHarness.Logits(basePath, Prompt);
        var off = LoraTestFiles.Logits(basePath, LoraTestFiles.One(a1, 0f), Prompt);
        Assert.Equal(baseline.SelectMany(x => x), off.SelectMany(x => x));

        float s1 = 0.5f, s2 = 1.5f;
        var both = LoraTestFiles.Logits(basePath, [new ScaledLora(a1, s1, "a1"), new ScaledLora(a2, s2, "a2")], Prompt);
        var stacked = LoraTestFiles.Logits(basePath, LoraTestFiles.One(Stack(a1, s1, a2, s2)), Prompt);
        AssertClose("two adapters vs stacked", both, stacked, F32RelativeTolerance);
    }

    [Fact]
    public void Scale_can_be_changed_between_passes()
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape("qwen2");
        string basePath = dir.File("base.gguf");
        RandomModel.Write(basePath, shape, GgmlType.F32, seed: 5);
        var a = LoraTestFiles.Random(shape, rank: 2, alpha: 2, seed: 31, "attn_v", "ffn_gate");
        using var model = DecoderModel.Load(ModelSources.Open(basePath));
        model.UseAdapters(LoraTestFiles.One(a, 1f));
        var on = LoraTestFiles.Logits(model, Prompt);
        model.Lora!.SetScale(0, 0f);
        var off = LoraTestFiles.Logits(model, Prompt);
        model.UseAdapters([]);
        var none = LoraTestFiles.Logits(model, Prompt);
        Assert.Equal(none.SelectMany(x => x), off.SelectMany(x => x));
        Assert.NotEqual(none.SelectMany(x => x), on.SelectMany(x => x));
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, null)]
    [InlineData(GgmlType.F16, null)]
    [InlineData(GgmlType.Q4_K, "F32")]
    public void Merging_keeps_the_base_type_or_the_one_asked_for(GgmlType baseType, string? asked)
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape("llama", Dim: 256, Ffn: 256, Heads: 8, KvHeads: 4, HeadDim: 32);
        string basePath = dir.File("base.gguf"), merged = dir.File("merged.gguf");
        RandomModel.Write(basePath, shape, baseType, seed: 6);
        var a = LoraTestFiles.Random(shape, rank: 4, alpha: 4, seed: 41, "attn_q", "ffn_down");
        GgmlType? type = asked is null ? null : Enum.Parse<GgmlType>(asked);
        using (var model = DecoderModel.Load(ModelSources.Open(basePath)))
            LoraMerger.Write(model, LoraTestFiles.One(a), merged, type);
        using var f = GgufFile.Open(merged);
        Assert.Equal(type ?? baseType, f.GetTensor("blk.0.attn_q.weight").Type);
        Assert.Equal(type ?? baseType, f.GetTensor("blk.1.ffn_down.weight").Type);
        Assert.Equal(GgmlType.F32, f.GetTensor("blk.0.attn_norm.weight").Type);
        // The folded matrix against W + scale·B·A computed here by plain loops from the base's own values.
        using var baseFile = GgufFile.Open(basePath);
        var t = a.Tensors.First(x => x.Target == "blk.0.attn_q.weight");
        var exact = Dequantize(baseFile, t.Target);
        float scale = a.Scale(t);
        for (int o = 0; o < t.Out; o++)
            for (int i = 0; i < t.In; i++)
            {
                float d = 0;
                for (int k = 0; k < t.Rank; k++) d += t.B[o * t.Rank + k] * t.A[k * t.In + i];
                exact[o * t.In + i] += scale * d;
            }
        var got = Dequantize(f, t.Target);
        float max = 0, range = 0;
        for (int i = 0; i < exact.Length; i++) { max = Math.Max(max, Math.Abs(got[i] - exact[i])); range = Math.Max(range, Math.Abs(exact[i])); }
        output.WriteLine($"{baseType} → {type ?? baseType}: max |diff| {max:G4} of weight range {range:G4}");
        Assert.True(max <= StorageRelativeTolerance(type ?? baseType) * range, $"max |diff| {max} of weight range {range}");
    }

    /// <summary>How far storing a folded weight in the type may move it, relative to the largest weight:
    /// F32 only summation order; F16 half an ulp (2⁻¹¹); Q8_0 half a step of a block's amax / 127.</summary>
    static float StorageRelativeTolerance(GgmlType t) => t switch
    {
        GgmlType.F32 => 1e-5f,
        GgmlType.F16 => 5e-4f,
        GgmlType.Q8_0 => 1f / 200,   // 1/254 plus the F16 rounding of each block scale
        _ => throw new ArgumentException($"no tolerance for {t}"),
    };

    static float[] Dequantize(GgufFile f, string name)
    {
        var info = f.GetTensor(name);
        var data = new float[info.ElementCount];
        int cols = (int)info.Dimensions[0];
        long rowBytes = GgmlTypes.RowBytes(info.Type, cols);
        var bytes = f.TensorData(info);
        for (int r = 0; r < data.Length / cols; r++)
            EdgeLM.Quantization.QuantKernels.Dequantize(info.Type, bytes.Slice((int)(r * rowBytes), (int)rowBytes), data.AsSpan(r * cols, cols));
        return data;
    }

    /// <summary>One adapter equal to s1·a1 + s2·a2: A's stacked by rank, B's side by side with each
    /// adapter's scale folded in, alpha 0 (scale 1).</summary>
    static LoraAdapter Stack(LoraAdapter a1, float s1, LoraAdapter a2, float s2)
    {
        var all = new Dictionary<string, List<(LoraTensor T, float S)>>();
        foreach (var t in a1.Tensors) (all.TryGetValue(t.Target, out var l) ? l : all[t.Target] = []).Add((t, s1 * a1.Scale(t)));
        foreach (var t in a2.Tensors) (all.TryGetValue(t.Target, out var l) ? l : all[t.Target] = []).Add((t, s2 * a2.Scale(t)));
        var tensors = new List<LoraTensor>();
        foreach (var (target, parts) in all)
        {
            int rank = parts.Sum(p => p.T.Rank), inDim = parts[0].T.In, outDim = parts[0].T.Out;
            var A = new float[rank * inDim];
            var B = new float[outDim * rank];
            int r0 = 0;
            foreach (var (t, s) in parts)
            {
                t.A.CopyTo(A, r0 * inDim);
                for (int o = 0; o < outDim; o++)
                    for (int k = 0; k < t.Rank; k++) B[o * rank + r0 + k] = s * t.B[o * t.Rank + k];
                r0 += t.Rank;
            }
            tensors.Add(new LoraTensor(target, rank, inDim, outDim, A, B));
        }
        return new LoraAdapter(a1.Architecture, 0, tensors);
    }

    void AssertClose(string what, float[][] actual, float[][] expected, float relative)
    {
        var (max, pos, idx, scale) = EngineHarness.Compare(actual, expected);
        output.WriteLine($"{what}: max |diff| {max:G4} at position {pos}, token {idx}; logit scale {scale:G4}");
        Assert.True(max <= relative * scale, $"{what}: max |diff| {max} at position {pos}, token {idx} (scale {scale})");
    }
}
