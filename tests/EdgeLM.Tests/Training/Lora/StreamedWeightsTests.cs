// Streaming the frozen base (QuantizedProjections.Load with streamWeights: each tile's bytes read from
// the file with RandomAccess.Read instead of touched through the mapping) changes no number: the loss
// and every gradient equal the mapped path's bit for bit, plain and with bounded activations (the bytes
// are the same, and so is everything done with them). A file cut short while training is an error
// naming the file and the tensor, where the mapping would fault.
using EdgeLM.Formats;
using EdgeLM.Kernels;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;
using EdgeLM.Training;
using EdgeLM.Training.Lora;

namespace EdgeLM.Tests.Training.Lora;

[Collection(PoemsCollection.Name)]
public class StreamedWeightsTests(PoemsFixture f)
{
    const int B = 2, T = 32;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Streamed_weights_give_the_mapped_losses_and_gradients_bit_for_bit(bool bounded)
    {
        string path = Q4Base();
        var options = bounded ? new ActivationOptions { Checkpoint = true, VocabTiledLoss = true } : new ActivationOptions { LogitRows = 24 };
        var (mapped, mf) = QuantizedProjections.Load(path, B, T, options);
        var (streamed, sf) = QuantizedProjections.Load(path, B, T, options, streamWeights: true);
        using var _ = mf;
        using var __ = sf;
        Assert.False(mf.Streamed);
        Assert.True(sf.Streamed);
        var lora = new LoraOptions { Rank = 4, Alpha = 8, Targets = LinearTargets.Parse("q,k,v,o,gate,up,down") };
        var la = new LoraLayers(mapped.Config, B, T, lora);
        var lb = new LoraLayers(streamed.Config, B, T, lora);
        GradCheck.Randn(new Random(5), la.Count, 0.1f).CopyTo(la.Data, 0);
        la.Data.CopyTo(lb.Data, 0);
        (mapped.LinearHook, streamed.LinearHook) = (la, lb);
        var inputs = new int[B * T];
        var targets = new int[B * T];
        for (int b = 0; b < B; b++)
            ByteDataset.Window(f.Poems.Validation, 200 * b + 7, inputs.AsSpan(b * T, T), targets.AsSpan(b * T, T));
        using var pool = new WorkerPool(2);
        float lossM = mapped.Forward(inputs, targets, default, pool), lossS = streamed.Forward(inputs, targets, default, pool);
        // Every held matrix is read at least once by the forward pass (the tied head twice: lookup and logits).
        Assert.True(sf.BytesRead >= sf.StoredBytes, $"{sf.BytesRead} bytes read, {sf.StoredBytes} stored");
        mapped.Backward(pool);
        streamed.Backward(pool);
        Assert.Equal(BitConverter.SingleToInt32Bits(lossM), BitConverter.SingleToInt32Bits(lossS));
        AssertBitIdentical("adapter gradients", la.Grad, lb.Grad);
        AssertBitIdentical("norm and bias gradients", mapped.Parameters.Grad, streamed.Parameters.Grad);
        Assert.Contains(la.Grad, g => g != 0);
    }

    [Fact]
    public void A_file_cut_short_while_streaming_is_an_error_naming_it()
    {
        using var dir = new TempDir();
        string path = dir.File("cut.gguf");
        File.Copy(Q4Base(), path);
        var (m, frozen) = QuantizedProjections.Load(path, B, T, new ActivationOptions { Checkpoint = true, VocabTiledLoss = true }, streamWeights: true);
        using var _ = frozen;
        using (var s = new FileStream(path, FileMode.Open, FileAccess.Write)) s.SetLength(s.Length / 2);
        var tokens = new int[B * T];
        var e = Assert.Throws<InvalidModelFileException>(() => m.Forward(tokens, tokens, default));
        Assert.Equal(path, e.FilePath);
        Assert.Contains("tensor '", e.Message);
        Assert.Contains("file ends", e.Message);
    }

    string Q4Base()
    {
        string path = f.File("base-stream-Q4_0.gguf");
        lock (f)
            if (!File.Exists(path)) QloraTests.QuantizeProjections(f.BasePath, path, GgmlType.Q4_0);
        return path;
    }

    static void AssertBitIdentical(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: first difference at [{i}]: {expected[i]:R} vs {actual[i]:R}");
    }
}
