// The training step's contracts: after warm-up a full step (forward, backward, clipping, AdamW)
// allocates nothing on the managed heap of the calling thread, and bad inputs fail with messages
// that name the problem instead of corrupting memory or training silently.
using EdgeLM.Kernels;
using EdgeLM.Tests.Support;
using EdgeLM.Training;

namespace EdgeLM.Tests.Training;

public class TrainingStepTests
{
    [Fact]
    public void A_training_step_allocates_nothing_after_warm_up()
    {
        var config = TransformerConfig.Create("qwen2", ByteDataset.VocabSize, 32, 2, 4, 2, 8, 64, 64, tied: false);
        var m = new Transformer(config, 2, 16);
        m.Parameters.Initialize(1);
        var data = new ByteDataset(System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("all the world's a stage. ", 20))));
        using var pool = new WorkerPool(2);
        var trainer = new Trainer(m, data.Train, new TrainingOptions { Steps = 30, AccumulationSteps = 2 }, pool);
        // Warm-up long enough that this thread has run a chunk of every parallel job at least once:
        // per-thread scratch (attention's probability row) is sized on a thread's first chunk, and
        // which thread takes which chunk depends on timing.
        for (int i = 0; i < 15; i++) trainer.Step();
        long allocated = Allocations.Least(() =>
        {
            for (int i = 0; i < 5; i++) trainer.Step();
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Out_of_range_tokens_and_wrong_lengths_are_refused_by_name()
    {
        var config = TransformerConfig.Create("llama", 10, 16, 1, 2, 2, 8, 32, 32, tied: true);
        var m = new Transformer(config, 1, 4);
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => m.Forward([1, 2, 10, 3], default, default));
        Assert.Contains("token id 10", e1.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => m.Forward([1, 2, 3, 4], [1, 2, -1, 4], default));
        Assert.Contains("target id -1", e2.Message, StringComparison.Ordinal);
        var e3 = Assert.Throws<ArgumentException>(() => m.Forward([1, 2, 3], default, default));
        Assert.Contains("expected 4 tokens", e3.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_masked_out_position_does_not_change_the_loss_or_the_gradients()
    {
        var config = TransformerConfig.Create("llama", 20, 16, 1, 2, 1, 8, 32, 32, tied: false);
        var m = new Transformer(config, 1, 4);
        m.Parameters.Initialize(2);
        int[] inputs = [1, 5, 7, 9];
        bool[] mask = [true, true, false, true];
        float l1 = m.Forward(inputs, [5, 7, 9, 11], mask);
        m.ZeroGrad();
        m.Backward();
        var g1 = (float[])m.Parameters.Grad.Clone();
        float l2 = m.Forward(inputs, [5, 7, 0, 11], mask); // only the masked target differs
        m.ZeroGrad();
        m.Backward();
        Assert.Equal(l1, l2);
        Assert.Equal(g1, m.Parameters.Grad);
    }
}
