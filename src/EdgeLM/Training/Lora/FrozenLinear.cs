// The input gradient of a linear layer whose weight is frozen: dinp += dout · W, without the weight
// gradient (which costs as much again and is thrown away when only adapters train). It runs the same
// register-blocked job as Linear.Backward, split by token rows on the WorkerPool.
// Legend: N = B·T rows, C = input channels, OC = output channels.
using EdgeLM.Kernels;
using EdgeLM.Training.Layers;

namespace EdgeLM.Training.Lora;

public static unsafe class FrozenLinear
{
    [ThreadStatic] static LinearJob? t_job;

    /// <summary>dinp (N, C) += dout (N, OC) · weight (OC, C).</summary>
    public static void BackwardInput(Span<float> dinp, ReadOnlySpan<float> dout, ReadOnlySpan<float> weight, int N, int C, int OC, WorkerPool? pool)
    {
        System.Diagnostics.Debug.Assert(dinp.Length >= N * C && dout.Length >= N * OC && weight.Length >= OC * C);
        var job = t_job ??= new LinearJob();
        fixed (float* dx = dinp) fixed (float* dy = dout) fixed (float* w = weight)
        {
            job.Set(LinearJob.Mode.BackwardInput, dx, dy, w, null, N, C, OC);
            // As Linear.Run: ~64K multiply-adds per chunk keeps the pool's hand-off cost small.
            int grain = (int)Math.Max(1, 65536 / Math.Max(1, (long)OC * C));
            if (pool is null) job.Execute(0, N);
            else pool.For(N, grain, job);
        }
    }
}
