using EdgeLM.Formats.Gguf;
using EdgeLM.Inference;
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models;

public class AllocationTests
{
    // Measured on the calling thread (Allocations.Least). With one pool thread all the work runs here;
    // with two, the workers run the same job code and this thread runs the dispatch.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Decoding_and_sampling_a_token_allocates_nothing_on_the_managed_heap(int threads)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        RandomModel.Write(path, new RandomModelShape("qwen2", Tied: true));
        using var model = DecoderModel.Load(GgufModelSource.Open(path));
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
