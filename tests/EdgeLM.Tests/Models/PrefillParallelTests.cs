// The prompt path's row-parallel element-wise work (RowJobs, MatMul.QuantizeActivations) against the
// single-threaded loops it replaced, byte for byte; and a whole prompt through the decoder (blocked
// attention, rows split across threads) against the same prompt fed one token at a time (the
// per-token attention kernels) and against itself on one thread.
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models;

public class PrefillParallelTests
{
    /// <summary>A prompt in one micro-batch against one token at a time: the batched and single-row matrix
    /// products sum in different orders, and prompt attention fuses multiply-adds where decode's tail does
    /// not; both are F32 rounding, ~1e-6 of the logit range per layer.</summary>
    const float SummationOrderTolerance = 1e-4f;

    [Theory]
    [InlineData(4864, GgmlType.Q8_0)] // Qwen2.5-0.5B's feed-forward width, Q8_0 activations
    [InlineData(256, GgmlType.Q4_K)]  // Q8_K activations
    [InlineData(259, GgmlType.F32)]   // a width that is no multiple of the SwiGLU chunk or any vector
    public void Row_jobs_equal_the_single_threaded_loops_byte_for_byte(int ff, GgmlType type)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        int dim = type == GgmlType.Q4_K ? 256 : 64;
        RandomModel.Write(path, new RandomModelShape("llama", Dim: dim, Layers: 1, Heads: 4, KvHeads: 2, HeadDim: dim / 4, Ffn: ff), type);
        using var model = DecoderModel.Load(ModelSources.Open(path));
        using var pool = new WorkerPool(2);
        const int T = 37;
        using var s = new DecoderState(model.Config, model.Weights, 64, T, pool);
        var down = model.Weights.Layers[0].FfnDown;
        var vt = QuantKernels.VecDotType(down.Type);
        int rowBytes = (int)GgmlTypes.RowBytes(vt, ff);
        var r = new Random(ff);
        for (int i = 0; i < T * ff; i++) (s.Gate[i], s.Up[i]) = (r.NextSingle() * 8 - 4, r.NextSingle() * 2 - 1);

        // SwiGLU over the whole (T, FF) at once, then each row quantized: what the forward pass did before
        var gate = s.Gate.AsSpan(0, T * ff).ToArray();
        Activations.SwiGlu(gate, gate, s.Up.AsSpan(0, T * ff));
        var quantized = new byte[T * rowBytes];
        for (int t = 0; t < T; t++) QuantKernels.Quantize(vt, gate.AsSpan(t * ff, ff), quantized.AsSpan(t * rowBytes, rowBytes));
        new RowJobs().SwiGluQuantize(s, down, T);
        Assert.Equal(gate, s.Gate.AsSpan(0, T * ff).ToArray());
        for (int t = 0; t < T; t++)
            Assert.Equal(quantized.AsSpan(t * rowBytes, rowBytes).ToArray(), s.Quantized.AsSpan((int)(t * s.ActivationRowBytes), rowBytes).ToArray());

        // activation quantization of a (T, FF) input, rows split across the pool
        Array.Clear(s.Quantized);
        MatMul.QuantizeActivations(s, down, gate, T);
        for (int t = 0; t < T; t++)
            Assert.Equal(quantized.AsSpan(t * rowBytes, rowBytes).ToArray(), s.Quantized.AsSpan((int)(t * s.ActivationRowBytes), rowBytes).ToArray());

        // RmsNorm rows (in place, as the qk-norm uses it)
        var x = s.Gate.AsSpan(0, T * ff).ToArray();
        var weight = new float[ff];
        for (int i = 0; i < ff; i++) weight[i] = r.NextSingle() + 0.5f;
        var expected = new float[T * ff];
        for (int t = 0; t < T; t++) Norm.RmsNorm(expected.AsSpan(t * ff, ff), x.AsSpan(t * ff, ff), weight, 1e-6f);
        new RowJobs().RmsNorm(s, s.Gate, s.Gate, weight, ff, T, 1e-6f);
        Assert.Equal(expected, s.Gate.AsSpan(0, T * ff).ToArray());
    }

    public static TheoryData<int, int, GgmlType> Shapes => new()
    {
        { 7, 1, GgmlType.F16 }, { 7, 1, GgmlType.F32 }, // seven query heads per KV head (Qwen2.5-0.5B's grouping)
        { 2, 2, GgmlType.F16 }, { 4, 2, GgmlType.F32 },  // one and two
        { 4, 2, GgmlType.Q8_0 },                         // a Q8_0 cache keeps the per-token kernels
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void A_prompt_in_micro_batches_matches_token_by_token_decode(int heads, int kvHeads, GgmlType cache)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, new RandomModelShape("qwen2", Dim: heads * 32, Layers: 2, Heads: heads, KvHeads: kvHeads, HeadDim: 32, Ffn: 96), GgmlType.F32, seed: heads);
        using var model = DecoderModel.Load(ModelSources.Open(path));
        // 61 tokens in micro-batches of 23: blocks that end mid-batch and batches that start past position 0
        int[] prompt = [.. Enumerable.Range(0, 61).Select(i => RandomModel.Bos + (i == 0 ? 0 : 3 + i * 37 % 300))];
        var batched = EngineHarness.Logits(model, prompt, threads: 2, maxBatch: 23, kvType: cache);
        var stepwise = EngineHarness.Logits(model, prompt, threads: 2, maxBatch: 1, kvType: cache);
        var (max, pos, idx, scale) = EngineHarness.Compare(batched, stepwise);
        Assert.True(max <= SummationOrderTolerance * scale, $"max |batched - stepwise| {max} at position {pos}, logit {idx} (range {scale})");
        // and the split across threads changes no bit
        var single = EngineHarness.Logits(model, prompt, threads: 1, maxBatch: 23, kvType: cache);
        for (int t = 0; t < prompt.Length; t++) Assert.Equal(single[t], batched[t]);
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)] // the rows-in-lanes prompt kernels, activations prepared once per product
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)] // the K-quant tiles
    public void A_quantized_prompt_is_the_same_to_the_bit_on_one_and_two_threads(GgmlType type)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, new RandomModelShape("llama", Dim: 256, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: 64, Ffn: 768), type, seed: 5);
        using var model = DecoderModel.Load(ModelSources.Open(path));
        // Micro-batches of 100 activations: past the 64 rows of 256 values that one thread prepares alone.
        int[] prompt = [.. Enumerable.Range(0, 150).Select(i => RandomModel.Bos + (i == 0 ? 0 : 3 + i * 37 % 300))];
        var two = EngineHarness.Logits(model, prompt, threads: 2, maxBatch: 100, kvType: GgmlType.F16);
        var one = EngineHarness.Logits(model, prompt, threads: 1, maxBatch: 100, kvType: GgmlType.F16);
        for (int t = 0; t < prompt.Length; t++) Assert.Equal(one[t], two[t]);
    }
}
