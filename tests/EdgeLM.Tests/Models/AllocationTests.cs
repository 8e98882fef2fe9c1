using EdgeLM.Formats.Gguf;
using EdgeLM.Inference;
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models;

public class AllocationTests
{
    // Measured on the calling thread (Allocations.Least). With one pool thread all the work runs here;
    // with two, the workers run the same job code and this thread runs the dispatch.
    // Also over repacked weights (Q6_K and Q8_0 layouts where this CPU has them), with an FFN of 2,304 so
    // that ffn_down's rows are split into DecodeRepack's column panels.
    [Theory]
    [InlineData(1, GgmlType.F32)]
    [InlineData(2, GgmlType.F32)]
    [InlineData(1, GgmlType.Q6_K)]
    [InlineData(2, GgmlType.Q8_0)]
    public void Decoding_and_sampling_a_token_allocates_nothing_on_the_managed_heap(int threads, GgmlType type)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        bool quantized = type != GgmlType.F32;
        var shape = quantized ? new RandomModelShape("qwen2", Dim: 256, HeadDim: 64, Ffn: 2304, Tied: true) : new RandomModelShape("qwen2", Tied: true);
        RandomModel.Write(path, shape, type);
        using var model = DecoderModel.Load(GgufModelSource.Open(path), repack: quantized);
        using var pool = new WorkerPool(threads);
        using var s = new DecoderState(model.Config, model.Weights, 512, 8, pool);
        var sampler = new Sampler(new SamplingOptions { Seed = 1, RepeatPenalty = 1.1f }, model.Config.VocabSize);
        var history = new int[500];
        int[] token = [RandomModel.Bos];
        // Warm up: first calls JIT-compile and size per-thread scratch.
        for (int i = 0; i < 300; i++) { model.Forward(s, token); token[0] = sampler.Sample(s.Logits, history.AsSpan(0, i)); history[i] = token[0]; }

        int n = 300;
        long allocated = Allocations.Least(() =>
        {
            for (int end = n + 60; n < end; n++) { model.Forward(s, token); token[0] = sampler.Sample(s.Logits, history.AsSpan(0, n)); history[n] = token[0]; }
        });
        Assert.True(allocated == 0, $"60 decode steps allocated {allocated} bytes");
    }
}
