// A first training run: a tiny llama learns Shakespeare byte by byte. The validation loss (last 10%
// of the file, never trained on) must fall well below the unigram baseline within the time budget,
// and trend down along the way; the trained model, exported to GGUF with its byte vocabulary, is
// then run by the engine and by llama.cpp, whose logits must match the training forward and whose
// greedy samples must agree.
using System.Diagnostics;
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Tests.Support;
using EdgeLM.Training;

namespace EdgeLM.Tests.Training;

public class TrainingLoopTests
{
    const int Steps = 300;

    /// <summary>Measured: 2.68 nats after 300 steps with batches drawn as a function of (seed, step) (2.58 with
    /// the earlier sequential sampler; unigram baseline 3.35). The bound leaves ~0.17 nats of margin for other
    /// vector widths' rounding, yet is far below what a model without context can reach.</summary>
    const double MaxFinalValidationLoss = 2.85;

    /// <summary>llama.cpp runs the exported F32 model with F32 keys and values (LlamaCppOracle): only the
    /// summation order differs, as in the engine's own parity tests (Models/LlamaCppParityTests).</summary>
    const float LlamaCppRelativeTolerance = 1e-4f;

    [Fact]
    public void A_tiny_llama_learns_shakespeare_well_below_the_unigram_baseline()
    {
        var data = new ByteDataset(File.ReadAllBytes(TestData.File("corpus", "en", "tinyshakespeare.txt")));
        double unigram = ByteDataset.UnigramLoss(data.Train, data.Validation);
        var config = TransformerConfig.Create("llama", ByteDataset.VocabSize, dim: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16,
            ffn: 192, context: 128, tied: true);
        var m = new Transformer(config, B: 8, T: 64);
        m.Parameters.Initialize(1);
        using var pool = new WorkerPool(2);
        var trainer = new Trainer(m, data.Train, new TrainingOptions
        {
            Steps = Steps,
            MaxLearningRate = 6e-3f,
            MinLearningRate = 6e-4f,
            WarmupSteps = 20,
            Seed = 1,
        }, pool);
        var curve = new List<(int Step, float Val)>();
        var sw = Stopwatch.StartNew();
        double trainLoss = 0;
        for (int s = 0; s < Steps; s++)
        {
            var st = trainer.Step();
            trainLoss = st.Loss;
            if (s % 50 == 0 || s == Steps - 1)
            {
                float val = Trainer.Evaluate(m, data.Validation, 4, pool);
                curve.Add((s, val));
                Console.WriteLine($"step {s,4}: train {st.Loss:F3}  val {val:F3}  lr {st.LearningRate:E2}  |g| {st.GradNorm:F2}  {sw.Elapsed.TotalSeconds:F1}s");
            }
        }
        double tokPerSec = (double)Steps * 8 * 64 / sw.Elapsed.TotalSeconds;
        Console.WriteLine($"unigram baseline {unigram:F3}; {m.Parameters.Count} parameters; {tokPerSec:F0} tokens/s including evaluation");
        Assert.True(curve[^1].Val < MaxFinalValidationLoss, $"final validation loss {curve[^1].Val}");
        Assert.True(curve[^1].Val < unigram - 0.5, $"final validation loss {curve[^1].Val} vs unigram {unigram}");
        for (int i = 1; i < curve.Count; i++)
            Assert.True(curve[i].Val < curve[i - 1].Val + 0.05, $"validation loss rose from {curve[i - 1].Val} to {curve[i].Val} at step {curve[i].Step}");
        Assert.True(trainLoss < curve[0].Val - 2, $"training loss {trainLoss}");
        EngineRunsTheTrainedModel(m, data);
    }

    /// <summary>Exports with the byte vocabulary; the engine's logits on a validation window match the
    /// training forward, and its tokenizer decodes a greedy sample to the bytes the ids stand for.</summary>
    static void EngineRunsTheTrainedModel(Transformer trained, ByteDataset data)
    {
        using var dir = new TempDir();
        string path = dir.File("shakespeare-bytes.gguf");
        TransformerGguf.Save(trained, path, w => RandomModel.AddVocabulary(w, ByteDataset.VocabSize), "tiny-shakespeare-bytes");
        int T = 64;
        var inputs = new int[T];
        var targets = new int[T];
        ByteDataset.Window(data.Validation, 1000, inputs, targets);
        var engine = Models.EngineHarness.Logits(path, inputs);
        var single = TransformerGguf.Load(path, 1, T);
        single.Forward(inputs, targets, default);
        var V = ByteDataset.VocabSize;
        var training = Enumerable.Range(0, T).Select(t => single.Logits.Slice(t * V, V).ToArray()).ToArray();
        var (max, pos, idx, _) = Models.EngineHarness.Compare(training, engine);
        Console.WriteLine($"trained model: engine vs training logits max |Δ| {max:E2} at position {pos}, logit {idx}");
        Assert.True(max <= EngineAgreementTests.LogitTolerance, $"max |Δlogit| {max}");
        var llama = LlamaCppOracle.Logits(path, inputs);
        var (lmax, lpos, lidx, lscale) = Models.EngineHarness.Compare(training, llama);
        Console.WriteLine($"trained model: llama.cpp vs training logits max |Δ| {lmax:E2} at position {lpos}, logit {lidx} (scale {lscale:F1})");
        Assert.True(lmax <= LlamaCppRelativeTolerance * lscale, $"llama.cpp: max |Δlogit| {lmax}");

        var prompt = new List<int> { ByteDataset.Bos };
        prompt.AddRange("ROMEO:\n".Select(ch => ByteDataset.FirstByte + ch));
        var sample = Models.EngineHarness.Greedy(path, prompt, 60);
        var tokenizer = EdgeLM.Tokenizers.Tokenizer.Load(path);
        // Decoded after the prompt's text: a sample that begins with a space would otherwise lose it, since
        // decoding drops the leading space of a text as llama.cpp's detokenizer does with a space prefix.
        var text = prompt.Skip(1).Concat(sample).ToArray();
        string decoded = tokenizer.Decode(text);
        Console.WriteLine($"greedy sample after \"ROMEO:\\n\": {decoded.Replace("\n", "\\n", StringComparison.Ordinal)}");
        Assert.All(sample, id => Assert.InRange(id, ByteDataset.FirstByte, ByteDataset.VocabSize - 1));
        string expected = System.Text.Encoding.UTF8.GetString(text.Select(id => (byte)(id - ByteDataset.FirstByte)).ToArray());
        Assert.Equal(expected, decoded);
        Assert.Equal(sample, LlamaCppOracle.Greedy(path, prompt, sample.Length));
    }
}
