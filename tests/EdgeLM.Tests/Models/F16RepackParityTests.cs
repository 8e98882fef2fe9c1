// An F16 model (FFN-down rows of 4,864 elements, Qwen2.5-0.5B's, beside rows of 64) decoded token by token with
// and without F16Repack's decode layout built at load: every matrix is repacked, the logits agree within
// float reassociation and the greedy tokens are the same; a prompt, which reads the rows back from the copy,
// gives the mapped rows' logits bit for bit.
using EdgeLM.Models;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Models;

public class F16RepackParityTests(ITestOutputHelper output)
{
    /// <summary>Both paths sum the same exact products (F16 x F16 fits a float) in different groupings, so each
    /// dot differs by a few roundings (~1e-7 of its terms); F16 activations then round the same way almost
    /// always. Measured: about 1e-7 of the largest |logit|; the bound leaves room for an activation to cross
    /// an F16 rounding step.</summary>
    const float MaxRelativeTolerance = 1e-3f;

    static readonly int[] Prompt = [RandomModel.Bos, 300, 265, 270, 310, 259, 299, 280, 281, 300];

    [Fact]
    public void Decode_logits_agree_with_and_without_repacking()
    {
        if (!F16Repack.Supported) return; // nothing is repacked on this CPU
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        var shape = new RandomModelShape("qwen2", Dim: 64, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: 16, Ffn: 4864, Vocab: 330,
            Tied: true, RopeBase: 1000000f);
        RandomModel.Write(path, shape, GgmlType.F16, seed: 5);

        using var plain = DecoderModel.Load(ModelSources.Open(path));
        using var packed = DecoderModel.Load(ModelSources.Open(path), repack: true);
        foreach (var m in packed.Weights.Matrices())
            Assert.True(m.IsRepacked, $"{m.Name} ({m.Cols} columns) was not repacked");

        var want = EngineHarness.Logits(plain, Prompt, maxBatch: 1);
        var got = EngineHarness.Logits(packed, Prompt, maxBatch: 1);
        var (max, pos, idx, scale) = EngineHarness.Compare(got, want);
        output.WriteLine($"max |diff| {max:G4} ({max / scale:G3} of scale {scale:G4}) at position {pos}, token {idx}");
        Assert.True(max <= MaxRelativeTolerance * scale, $"max |diff| {max} at position {pos}, token {idx}");
        for (int t = 0; t < Prompt.Length; t++)
            Assert.Equal(EngineHarness.ArgMax(want[t]), EngineHarness.ArgMax(got[t]));

        // A prompt (T > 1) reads the rows back from the copy (the mapped pages were dropped): bit for bit the
        // logits of the mapped rows.
        Assert.All(packed.Weights.Matrices().Where(m => m.IsRepacked), m => Assert.True(m.PromptsReadRepacked, $"{m.Name}: prompts read the mapped rows"));
        var promptPlain = EngineHarness.Logits(plain, Prompt, maxBatch: 16);
        var promptPacked = EngineHarness.Logits(packed, Prompt, maxBatch: 16);
        for (int t = 0; t < Prompt.Length; t++) Assert.Equal(promptPlain[t], promptPacked[t]);
    }
}
