using EdgeLM.Formats.Gguf;
using EdgeLM.Inference;
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models;

public class AllocationTests
{
    [Fact]
    public void Decoding_and_sampling_a_token_allocates_nothing_on_the_managed_heap()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        TestModels.Write(path, new TestShape("qwen2", Tied: true));
        using var model = DecoderModel.Load(GgufModelSource.Open(path));
        using var pool = new WorkerPool(2);
        using var s = new DecoderState(model.Config, model.Weights, 512, 8, pool);
        var sampler = new Sampler(new SamplingOptions { Seed = 1, RepeatPenalty = 1.1f }, model.Config.VocabSize);
        var history = new int[500];
        int[] token = [TestModels.Bos];
        // Warm up: first calls JIT-compile and size per-thread scratch.
        for (int i = 0; i < 300; i++) { model.Forward(s, token); token[0] = sampler.Sample(s.Logits, history.AsSpan(0, i)); history[i] = token[0]; }

        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 300; i < 400; i++) { model.Forward(s, token); token[0] = sampler.Sample(s.Logits, history.AsSpan(0, i)); history[i] = token[0]; }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated == 0, $"100 decode steps allocated {allocated} bytes");
    }
}
