// QLoRA-style training: with the base's matrices (block projections, embedding, head) quantized (Q8_0,
// Q4_0) and left in the mapped file, the adapted model's logits and the adapters' gradients equal those of the same model
// trained on an F32 copy of the dequantized weights (TransformerGguf.Load), while the matrices take
// their stored size in memory instead of four bytes a weight (and no gradient storage). Bounding the
// activations (checkpointing, logits in chunks) changes nothing either.
using EdgeLM.Formats.Gguf;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Training;
using EdgeLM.Training.Lora;

namespace EdgeLM.Tests.Training.Lora;

[Collection(PoemsCollection.Name)]
public class QloraTests(PoemsFixture f)
{
    /// <summary>Both paths dequantize the same rows with the same routine and run the same blocked kernels on
    /// 4-row blocks aligned alike, so they agree to F32 rounding of differently split parallel work.</summary>
    const float Tolerance = 1e-5f;

    [Theory]
    [InlineData(GgmlType.Q8_0, false)]
    [InlineData(GgmlType.Q4_0, false)]
    [InlineData(GgmlType.Q4_0, true)]
    [InlineData(GgmlType.Q8_0, true, true)]
    public void Quantized_frozen_projections_give_the_dequantized_models_logits_and_gradients(GgmlType type, bool bounded, bool vocabTiled = false)
    {
        string path = f.File($"base-{type}.gguf");
        if (!File.Exists(path)) QuantizeProjections(f.BasePath, path, type);
        const int B = 2, T = 32;
        // Bounded: checkpointed blocks, and logits 24 rows at a time or over vocabulary tiles (the loss is then
        // all there is to compare).
        var (quantized, frozen) = QuantizedProjections.Load(path, B, T,
            bounded ? new ActivationOptions { Checkpoint = true, LogitRows = 24, VocabTiledLoss = vocabTiled } : null);
        using var _ = frozen;
        foreach (var t in quantized.Parameters.Tensors)
            Assert.True(t.Stored != t.IsMatrix, $"{t.Name}: stored {t.Stored}");
        var dequantized = TransformerGguf.Load(path, B, T);
        var options = new LoraOptions { Rank = 4, Alpha = 8 };
        var la = new LoraLayers(quantized.Config, B, T, options);
        var lb = new LoraLayers(dequantized.Config, B, T, options);
        var rng = new Random(4);
        GradCheck.Randn(rng, la.Count, 0.1f).CopyTo(la.Data, 0);
        la.Data.CopyTo(lb.Data, 0);
        quantized.LinearHook = la;
        dequantized.LinearHook = lb;
        var inputs = new int[B * T];
        var targets = new int[B * T];
        for (int b = 0; b < B; b++)
            ByteDataset.Window(f.Poems.Validation, 300 * b, inputs.AsSpan(b * T, T), targets.AsSpan(b * T, T));
        float lossQ = quantized.Forward(inputs, targets, default), lossD = dequantized.Forward(inputs, targets, default);
        var (maxLogit, _) = bounded ? (Math.Abs(lossQ - lossD), 0) : LoraFineTuneTests.MaxDiff(quantized.Logits, dequantized.Logits);
        la.ZeroGrad();
        lb.ZeroGrad();
        quantized.Backward();
        dequantized.Backward();
        var (maxGrad, at) = LoraFineTuneTests.MaxDiff(la.Grad, lb.Grad);
        float gradScale = Math.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(lb.Grad));
        Console.WriteLine($"{type}: loss {lossQ:F5} vs {lossD:F5}; logits max |Δ| {maxLogit:E2}; adapter gradients max |Δ| {maxGrad:E2} (largest {gradScale:E2}); " +
            $"projections {frozen.StoredBytes:N0} bytes stored vs {frozen.F32Bytes:N0} as F32, scratch {frozen.ScratchBytes:N0}");
        Assert.True(maxLogit <= Tolerance, $"logits differ by {maxLogit}");
        Assert.True(maxGrad <= Tolerance * Math.Max(1, gradScale), $"gradients differ by {maxGrad} at {at}");
        Assert.True(frozen.StoredBytes * 3 < frozen.F32Bytes, $"{frozen.StoredBytes} stored bytes vs {frozen.F32Bytes} F32");
    }

    /// <summary>The bound on the poems, reached by a short run at a brisker rate on a 4-bit base.</summary>
    const double MinPoemLossDrop = 0.20;

    [Fact]
    public void Lora_on_a_q4_0_base_learns_the_poems()
    {
        string path = f.File("base-q4-train.gguf");
        QuantizeProjections(f.BasePath, path, GgmlType.Q4_0);
        var (m, frozen) = QuantizedProjections.Load(path, PoemsFixture.B, PoemsFixture.T);
        using var _ = frozen;
        using var pool = new EdgeLM.Kernels.WorkerPool(2);
        float before = Trainer.Evaluate(m, f.Poems.Validation, 2, pool);
        var lora = new LoraLayers(m.Config, PoemsFixture.B, PoemsFixture.T, new LoraOptions());
        lora.Initialize(5);
        var tuner = new FineTuner(m, lora, new TokenSequence(f.Poems.Train),
            new FineTuneOptions { Steps = 30, MaxLearningRate = 1e-3f, MinLearningRate = 1e-4f, WarmupSteps = 3, Bos = ByteDataset.Bos }, pool);
        for (int s = 0; s < 30; s++) tuner.Step();
        float after = Trainer.Evaluate(m, f.Poems.Validation, 2, pool);
        Console.WriteLine($"Q4_0 base: poems val {before:F3} → {after:F3} ({1 - after / before:P1} lower) in 30 LoRA steps");
        Assert.True(1 - after / before >= MinPoemLossDrop, $"poem validation loss {before} → {after}");
    }

    /// <summary>A copy of the F32 base with every matrix stored as <paramref name="type"/> (the reference quantizer).</summary>
    internal static void QuantizeProjections(string src, string dst, GgmlType type)
    {
        using var g = GgufFile.Open(src);
        var w = new GgufWriter();
        foreach (var kv in g.MetadataList) w.Set(kv.Key, kv.Value);
        foreach (var t in g.Tensors)
        {
            var data = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(g.TensorData(t)).ToArray();
            // Block projections, token embedding and output head: every matrix the frozen base keeps quantized.
            bool projection = t.Dimensions.Length == 2;
            if (!projection)
            {
                w.AddTensor(t.Name, data, t.Dimensions);
                continue;
            }
            int cols = (int)t.Dimensions[0], rows = (int)t.Dimensions[1];
            int rowBytes = (int)GgmlTypes.RowBytes(type, cols);
            var bytes = new byte[rows * rowBytes];
            for (int r = 0; r < rows; r++) QuantKernels.QuantizeReference(type, data.AsSpan(r * cols, cols), bytes.AsSpan(r * rowBytes, rowBytes));
            w.AddTensor(t.Name, type, t.Dimensions, bytes);
        }
        w.Write(dst);
    }
}
