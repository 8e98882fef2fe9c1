// The tokenizers a run can use and what they leave behind: a byte-level BPE trained on the data is
// saved in the run folder and embedded in model.gguf, and naming that saved tokenizer as --tokenizer
// PATH in a second run tokenizes the data identically (the same seed then gives the same losses).
// Also: validation loss counts only the targets the loss mask keeps.
using EdgeLM.Tokenizers.Training;
using EdgeLM.Training;
using EdgeLM.Training.Run;

namespace EdgeLM.Tests.Training;

public class RunTokenizerTests(RunFixture f) : IClassFixture<RunFixture>
{
    [Fact]
    public void A_tokenizer_trained_on_the_data_is_saved_embedded_and_reusable_by_path()
    {
        var trained = f.Config("bpe") with { Tokenizer = null, Vocab = 300, Steps = 3, EvalEvery = 3, SaveEvery = 3 };
        var a = TrainingRun.Run(trained, resume: false);
        string saved = Path.Combine(trained.Out!, "tokenizer");
        Assert.True(File.Exists(Path.Combine(saved, TokenizerFiles.GgufName)));
        var inModel = EdgeLM.Tokenizers.Tokenizer.Load(a.ModelPath);
        Assert.Equal(300, inModel.VocabSize);
        Assert.Equal(RunTokenizer.EndOfText, inModel.TokenText(inModel.EosId));
        string text = "ROMEO: But soft, what light";
        Assert.Equal(EdgeLM.Tokenizers.Tokenizer.Load(saved).Encode(text), inModel.Encode(text));
        Assert.True(inModel.Encode(text).Length < text.Length, "the merges shorten the text");

        var byPath = f.Config("bpe-by-path") with { Tokenizer = Path.Combine(saved, TokenizerFiles.GgufName), Steps = 3, EvalEvery = 3, SaveEvery = 3 };
        var b = TrainingRun.Run(byPath, resume: false);
        var rowsA = RunFixture.ReadRows(Path.Combine(trained.Out!, TrainingRun.MetricsName));
        var rowsB = RunFixture.ReadRows(Path.Combine(byPath.Out!, TrainingRun.MetricsName));
        Assert.Equal(rowsA.Select(r => r.TrainLoss), rowsB.Select(r => r.TrainLoss));
        Assert.Equal(a.ValidationLoss, b.ValidationLoss);
    }

    /// <summary>The same rows computed in a batch of 2 and alone: only the summation blocking of the
    /// matrix kernels can differ, a few ulps of a loss of ~5.</summary>
    const float BatchingTolerance = 1e-5f;

    [Fact]
    public void Evaluation_counts_only_the_targets_the_mask_keeps()
    {
        var config = TransformerConfig.Create("llama", 50, 16, 1, 2, 2, 8, 32, 8, tied: true);
        var pair = new Transformer(config, B: 2, T: 8);
        pair.Parameters.Initialize(4);
        var rng = new Random(2);
        var tokens = Enumerable.Range(0, 17).Select(_ => rng.Next(50)).ToArray();
        // Windows 0 (targets 1..8) and 1 (targets 9..16): keep only window 0's targets.
        var mask = Enumerable.Range(0, 17).Select(i => i is >= 1 and <= 8).ToArray();
        float masked = Trainer.Evaluate(pair, new TokenSequence(tokens, mask), 1);

        var single = new Transformer(config, B: 1, T: 8);
        pair.Parameters.Data.CopyTo(single.Parameters.Data, 0);
        float alone = single.Forward(tokens.AsSpan(0, 8), tokens.AsSpan(1, 8), default);
        float both = Trainer.Evaluate(pair, new TokenSequence(tokens), 1);
        Console.WriteLine($"masked {masked}, window 0 alone {alone}, both windows {both}");
        Assert.True(Math.Abs(masked - alone) <= BatchingTolerance, $"masked {masked} vs window 0 alone {alone}");
        Assert.True(Math.Abs(both - alone) > 100 * BatchingTolerance, "window 1 changes the unmasked mean");
    }
}
