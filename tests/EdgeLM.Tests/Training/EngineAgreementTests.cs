// The training forward pass against the inference engine (DecoderModel.Forward) on the same weights:
// a random GGUF model of each architecture is loaded into both, and the logits of every position
// compared; then the training-side parameters are changed, exported to GGUF, and the engine run on
// that file must agree with the training forward on the changed parameters.
using EdgeLM.Models;
using EdgeLM.Tests.Models;
using EdgeLM.Tests.Support;
using EdgeLM.Training;

namespace EdgeLM.Tests.Training;

public class EngineAgreementTests
{
    /// <summary>Both sides compute in F32 with the same formulas but different summation orders (blocked
    /// vector dots vs the engine's matmul kernels, per-row softmax); over 2 layers of logits of magnitude
    /// ~10 (RandomModel scales the head up) the differences measured are ~1e-5; 1e-3 leaves margin and
    /// is far below what a wrong RoPE ordering, head mapping or missing bias produces (≥ 0.1).</summary>
    public const float LogitTolerance = 1e-3f;

    [Theory]
    [InlineData("llama", false)]
    [InlineData("llama", true)]
    [InlineData("qwen2", false)]
    [InlineData("qwen3", true)]
    public void Training_forward_matches_the_engine_and_survives_export(string arch, bool tied)
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "random.gguf");
        var shape = new RandomModelShape(arch, Dim: 64, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: arch == "qwen3" ? 24 : 16,
            Ffn: 96, Vocab: 300, Context: 64, Tied: tied);
        RandomModel.Write(path, shape, seed: 3);
        int[] tokens = [1, 17, 200, 5, 5, 299, 42, 3, 128, 64, 9, 250];
        var engine = EngineHarness.Logits(path, tokens);

        var m = TransformerGguf.Load(path, 1, tokens.Length);
        Assert.Equal(tied, ReferenceEquals(m.Parameters.Output, m.Parameters.TokenEmbd));
        var training = Rows(m, tokens);
        AssertClose(engine, training, $"{arch} training vs engine");

        // Change every parameter (as training would), export, and run the engine on the new file.
        var rng = new Random(5);
        var p = m.Parameters.Data;
        for (int i = 0; i < p.Length; i++) p[i] *= 1f + 0.2f * (rng.NextSingle() - 0.5f);
        var changed = Rows(m, tokens);
        string exported = Path.Combine(dir.Path, "exported.gguf");
        TransformerGguf.Save(m, exported);
        var again = EngineHarness.Logits(exported, tokens);
        AssertClose(again, changed, $"{arch} engine on the exported GGUF vs training forward");
        Assert.True(EngineHarness.Compare(changed, engine).MaxDiff > 100 * LogitTolerance, "the perturbation changed the logits");
    }

    static float[][] Rows(Transformer m, int[] tokens)
    {
        m.Forward(tokens, default, default);
        int V = m.Config.Model.VocabSize;
        var rows = new float[tokens.Length][];
        for (int t = 0; t < tokens.Length; t++) rows[t] = m.Logits.Slice(t * V, V).ToArray();
        return rows;
    }

    static void AssertClose(float[][] expected, float[][] actual, string what)
    {
        var (max, pos, idx, scale) = EngineHarness.Compare(actual, expected);
        Console.WriteLine($"{what}: max |Δlogit| {max:E2} at position {pos}, logit {idx} (logit scale {scale:F1})");
        if (max > LogitTolerance)
            Assert.Fail($"{what}: max |Δlogit| {max} at position {pos}, logit {idx}: {actual[pos][idx]} vs {expected[pos][idx]} (tolerance {LogitTolerance})");
        Assert.True(scale > 1f, "logits are not trivially small");
    }
}
