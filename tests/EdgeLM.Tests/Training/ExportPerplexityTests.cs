// A model edgelm train exported: llama.cpp computes the same perplexity on it as EdgeLM does, with
// llama.cpp's own method (chunks with BOS first, the second half scored) applied to llama.cpp's logits.
using EdgeLM.Inference;
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Tensors;
using EdgeLM.Tests.Models;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Training;

public class ExportPerplexityTests(RunFixture f) : IClassFixture<RunFixture>
{
    /// <summary>The bound: llama.cpp within 0.5% of EdgeLM's perplexity on the exported GGUF.</summary>
    const double MaxRelativePerplexityGap = 0.005;

    [Fact]
    public void Llama_cpp_computes_the_same_perplexity_on_the_exported_model()
    {
        const int Ctx = 32, Chunks = 12;
        // Held-out text: Shakespeare past the 24 KB the fixture trained on.
        string text = File.ReadAllText(TestData.File("corpus", "en", "tinyshakespeare.txt"))[30_000..34_000];
        var tokenizer = EdgeLM.Tokenizers.Tokenizer.Load(f.Reference.ModelPath);
        var tokens = tokenizer.Encode(text, addBos: false, parseSpecial: false).Take(Ctx * Chunks).ToArray();

        using var model = DecoderModel.Load(ModelSources.Open(f.Reference.ModelPath));
        using var pool = new WorkerPool(2);
        using var state = new DecoderState(model.Config, model.Weights, Ctx, Ctx, pool, GgmlType.F32, GgmlType.F32);
        var ours = Perplexity.Compute(model, state, tokens, Ctx, tokenizer.BosId);

        double nll = 0;
        int scored = 0;
        for (int c = 0; c < Chunks; c++)
        {
            var chunk = tokens.AsSpan(c * Ctx, Ctx).ToArray();
            chunk[0] = tokenizer.BosId;
            var logits = LlamaCppOracle.Logits(f.Reference.ModelPath, chunk, context: Ctx);
            for (int j = Ctx / 2; j <= Ctx - 2; j++)
            {
                double max = logits[j].Max(), sum = logits[j].Sum(v => Math.Exp(v - max));
                nll += max + Math.Log(sum) - logits[j][tokens[c * Ctx + j + 1]];
                scored++;
            }
        }
        double theirs = Math.Exp(nll / scored);
        Console.WriteLine($"perplexity: EdgeLM {ours.Perplexity:F4}, llama.cpp {theirs:F4} over {scored} tokens");
        Assert.Equal(scored, ours.ScoredTokens);
        Assert.True(Math.Abs(ours.Perplexity - theirs) <= MaxRelativePerplexityGap * theirs, $"EdgeLM {ours.Perplexity}, llama.cpp {theirs}");
    }
}
