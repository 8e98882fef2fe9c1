// Adapters on the forward pass allocate nothing per token, in decode and in prefill: the factors are
// prepared once and the rank-sized scratch is per thread.
using EdgeLM.Formats.Gguf;
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models.Lora;

public class LoraAllocationTests
{
    [Fact]
    public void Forward_with_two_adapters_allocates_nothing()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        var shape = new RandomModelShape("llama");
        RandomModel.Write(path, shape);
        using var model = DecoderModel.Load(GgufModelSource.Open(path));
        model.UseAdapters([
            new ScaledLora(LoraTestFiles.Random(shape, 4, 8, 1), 1f, "a"),
            new ScaledLora(LoraTestFiles.Random(shape, 8, 8, 2, "attn_q", "ffn_down"), 0.5f, "b")]);
        using var pool = new WorkerPool(1);
        using var s = new DecoderState(model.Config, model.Weights, 256, 8, pool);
        int[] token = [RandomModel.Bos];
        int[] batch = [300, 301, 302, 303, 304, 305, 306, 307];
        for (int i = 0; i < 20; i++) model.Forward(s, token);
        model.Forward(s, batch);

        long allocated = Allocations.Least(() =>
        {
            for (int i = 0; i < 50; i++) model.Forward(s, token);
            model.Forward(s, batch);
        });
        Assert.True(allocated == 0, $"50 decode steps and a prefill with adapters allocated {allocated} bytes");
    }
}
