// The LoRA test: a byte-level base trained on English (tinyshakespeare) is LoRA-fine-tuned on
// Tang poems; the poems' validation loss must fall by at least 20% while the English validation loss
// rises by at most 5%. Then the adapter is checked against merging: the training forward with the
// adapter and the F32 model with W + scale·B·A folded in give the same logits.
using EdgeLM.Training;
using EdgeLM.Training.Lora;

namespace EdgeLM.Tests.Training.Lora;

[Collection(PoemsCollection.Name)]
public class LoraFineTuneTests(PoemsFixture f)
{
    /// <summary>The bounds.</summary>
    const double MinPoemLossDrop = 0.20, MaxEnglishLossRise = 0.05;

    /// <summary>Both products are F32 sums of the same terms in a different order (B·A folded first, or
    /// x·Aᵀ then ·Bᵀ); on logits of magnitude ~10 after two blocks that differs by ~1e-6 to 1e-5.</summary>
    const float MergedLogitTolerance = 1e-4f;

    [Fact]
    public void Fine_tuning_on_poems_lowers_their_loss_and_keeps_english()
    {
        double drop = 1 - f.TunedPoems / f.BasePoems, rise = f.TunedEnglish / f.BaseEnglish - 1;
        Console.WriteLine($"poems val {f.BasePoems:F3} → {f.TunedPoems:F3} ({drop:P1} lower); english val {f.BaseEnglish:F3} → {f.TunedEnglish:F3} ({rise:P1} higher)");
        Assert.True(drop >= MinPoemLossDrop, $"poem validation loss fell {drop:P1}");
        Assert.True(rise <= MaxEnglishLossRise, $"English validation loss rose {rise:P1}");
    }

    [Fact]
    public void Base_plus_adapter_gives_the_merged_models_logits()
    {
        var inputs = new int[PoemsFixture.T];
        var targets = new int[PoemsFixture.T];
        ByteDataset.Window(f.Poems.Validation, 500, inputs, targets);
        var adapted = TransformerGguf.Load(f.BasePath, 1, PoemsFixture.T);
        var lora = new LoraLayers(adapted.Config, 1, PoemsFixture.T, f.Lora.Options);
        lora.Load(f.Adapter);
        adapted.LinearHook = lora;
        adapted.Forward(inputs, default, default);
        var merged = TransformerGguf.Load(f.BasePath, 1, PoemsFixture.T);
        LoraMerge.Apply(merged.Parameters, f.Adapter);
        merged.Forward(inputs, default, default);
        var plain = TransformerGguf.Load(f.BasePath, 1, PoemsFixture.T);
        plain.Forward(inputs, default, default);
        var (max, at) = MaxDiff(adapted.Logits, merged.Logits);
        var (effect, _) = MaxDiff(plain.Logits, merged.Logits);
        Console.WriteLine($"adapter vs merged logits: max |Δ| {max:E2} at {at}; the adapter itself moves logits by up to {effect:F2}");
        Assert.True(max <= MergedLogitTolerance, $"max |Δlogit| {max} at {at}");
        Assert.True(effect > 100 * MergedLogitTolerance, $"the adapter changes logits by only {effect}");
    }

    internal static (float Max, int At) MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0;
        int at = -1;
        for (int i = 0; i < a.Length; i++)
        {
            float d = Math.Abs(a[i] - b[i]);
            if (d > max) (max, at) = (d, i);
        }
        return (max, at);
    }
}
