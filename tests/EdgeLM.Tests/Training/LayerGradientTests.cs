// Every training layer's backward pass against finite differences of its forward pass (GradCheck),
// one test per layer, with shapes that exercise remainders (odd widths, GQA groups, partial RoPE).
using EdgeLM.Kernels;
using EdgeLM.Training.Layers;

namespace EdgeLM.Tests.Training;

public class LayerGradientTests
{
    const int Coords = 60;

    [Fact]
    public void Encoder_backward_matches_finite_differences()
    {
        var rng = new Random(1);
        int V = 11, C = 7, N = 9;
        var wte = GradCheck.Randn(rng, V * C);
        int[] tokens = [3, 1, 3, 10, 0, 5, 3, 7, 1];
        var r = GradCheck.Randn(rng, N * C);
        var o = new float[N * C];
        double Loss() { Encoder.Forward(o, tokens, wte, N, C); return GradCheck.Project(o, r); }
        var dwte = new float[V * C];
        Encoder.Backward(dwte, r, tokens, N, C);
        GradCheck.Check("encoder wte", wte, dwte, Enumerable.Range(0, V * C), Loss);
    }

    [Theory]
    [InlineData(6, 37)]
    [InlineData(24, 8)] // per-head: B·T·H rows of D sharing one weight (qwen3 q/k norms)
    public void RmsNorm_backward_matches_finite_differences(int N, int C)
    {
        var rng = new Random(2);
        var x = GradCheck.Randn(rng, N * C);
        var w = GradCheck.Randn(rng, C, 0.3f, 1f);
        var r = GradCheck.Randn(rng, N * C);
        var o = new float[N * C];
        var rstd = new float[N];
        double Loss() { RmsNorm.Forward(o, rstd, x, w, N, C, 1e-5f); return GradCheck.Project(o, r); }
        Loss();
        var dx = new float[N * C];
        var dw = new float[C];
        RmsNorm.Backward(dx, dw, r, x, w, rstd, N, C);
        GradCheck.Check($"rmsnorm x ({N}x{C})", x, dx, GradCheck.Sample(N * C, Coords, rng), Loss);
        GradCheck.Check($"rmsnorm w ({N}x{C})", w, dw, Enumerable.Range(0, C), Loss);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Linear_backward_matches_finite_differences(bool bias)
    {
        var rng = new Random(3);
        int N = 7, C = 19, OC = 10; // OC not a multiple of 4, C not a multiple of the vector width
        var x = GradCheck.Randn(rng, N * C);
        var w = GradCheck.Randn(rng, OC * C, 0.3f);
        var b = bias ? GradCheck.Randn(rng, OC) : [];
        var r = GradCheck.Randn(rng, N * OC);
        var o = new float[N * OC];
        using var pool = new WorkerPool(2);
        double Loss() { Linear.Forward(o, x, w, b, N, C, OC, pool); return GradCheck.Project(o, r); }
        var dx = new float[N * C];
        var dw = new float[OC * C];
        var db = new float[b.Length];
        Linear.Backward(dx, dw, db, r, x, w, N, C, OC, pool);
        GradCheck.Check("linear x", x, dx, GradCheck.Sample(N * C, Coords, rng), Loss);
        GradCheck.Check("linear w", w, dw, GradCheck.Sample(OC * C, Coords, rng), Loss);
        if (bias) GradCheck.Check("linear b", b, db, Enumerable.Range(0, OC), Loss);
    }

    [Theory]
    [InlineData(false, 8)]
    [InlineData(true, 8)]
    [InlineData(false, 4)] // partial rotation: dimensions 4..7 pass through
    [InlineData(true, 6)]
    public void Rope_backward_matches_finite_differences(bool neox, int R)
    {
        var rng = new Random(4);
        int B = 2, T = 5, H = 3, D = 8, n = B * T * H * D;
        var cos = new float[T * R / 2];
        var sin = new float[T * R / 2];
        EdgeLM.Training.Layers.Rope.Tables(cos, sin, T, R, 10000f);
        var x = GradCheck.Randn(rng, n);
        var r = GradCheck.Randn(rng, n);
        var o = new float[n];
        double Loss() { EdgeLM.Training.Layers.Rope.Forward(o, x, cos, sin, B, T, H, D, R, neox); return GradCheck.Project(o, r); }
        var dx = new float[n];
        EdgeLM.Training.Layers.Rope.Backward(dx, r, cos, sin, B, T, H, D, R, neox);
        GradCheck.Check($"rope neox={neox} R={R}", x, dx, GradCheck.Sample(n, Coords, rng), Loss);
    }

    [Theory]
    [InlineData(4, 2)]
    [InlineData(3, 3)]
    [InlineData(4, 1)]
    public void Attention_backward_matches_finite_differences(int Hq, int Hkv)
    {
        var rng = new Random(5);
        int B = 2, T = 6, D = 8;
        var q = GradCheck.Randn(rng, B * T * Hq * D);
        var k = GradCheck.Randn(rng, B * T * Hkv * D);
        var v = GradCheck.Randn(rng, B * T * Hkv * D);
        var r = GradCheck.Randn(rng, B * T * Hq * D);
        var o = new float[B * T * Hq * D];
        var att = new float[B * Hq * T * T];
        using var pool = new WorkerPool(2);
        double Loss() { EdgeLM.Training.Layers.Attention.Forward(o, att, q, k, v, B, T, Hq, Hkv, D, pool); return GradCheck.Project(o, r); }
        Loss();
        var dq = new float[q.Length];
        var dk = new float[k.Length];
        var dv = new float[v.Length];
        EdgeLM.Training.Layers.Attention.Backward(dq, dk, dv, r, q, k, v, att, B, T, Hq, Hkv, D, pool);
        GradCheck.Check($"attention q ({Hq}/{Hkv})", q, dq, GradCheck.Sample(q.Length, Coords, rng), Loss);
        GradCheck.Check($"attention k ({Hq}/{Hkv})", k, dk, GradCheck.Sample(k.Length, Coords, rng), Loss);
        GradCheck.Check($"attention v ({Hq}/{Hkv})", v, dv, GradCheck.Sample(v.Length, Coords, rng), Loss);
    }

    [Fact]
    public void SwiGlu_backward_matches_finite_differences()
    {
        var rng = new Random(6);
        int n = 300;
        var g = GradCheck.Randn(rng, n, 2f);
        var u = GradCheck.Randn(rng, n);
        var r = GradCheck.Randn(rng, n);
        var o = new float[n];
        double Loss() { SwiGlu.Forward(o, g, u, n); return GradCheck.Project(o, r); }
        var dg = new float[n];
        var du = new float[n];
        SwiGlu.Backward(dg, du, r, g, u, n);
        GradCheck.Check("swiglu gate", g, dg, GradCheck.Sample(n, Coords, rng), Loss);
        GradCheck.Check("swiglu up", u, du, GradCheck.Sample(n, Coords, rng), Loss);
    }

    [Fact]
    public void CrossEntropy_backward_matches_finite_differences_and_skips_masked_positions()
    {
        var rng = new Random(7);
        int N = 6, V = 13;
        var logits = GradCheck.Randn(rng, N * V, 2f);
        int[] targets = [1, 12, 0, 5, 5, 7];
        bool[] mask = [true, false, true, true, false, true];
        var probs = new float[N * V];
        var losses = new float[N];
        double Loss() => CrossEntropy.Forward(probs, losses, logits, targets, mask, N, V);
        double loss = Loss();
        var d = new float[N * V];
        CrossEntropy.Backward(d, probs, targets, mask, 1f, N, V);
        GradCheck.Check("cross-entropy logits", logits, d, Enumerable.Range(0, N * V), Loss);
        // Masked rows get no gradient and no loss; the mean is over the 4 counted positions.
        Assert.All(d.AsSpan(1 * V, V).ToArray(), x => Assert.Equal(0f, x));
        double expected = 0;
        foreach (int n in new[] { 0, 2, 3, 5 })
        {
            var row = logits.AsSpan(n * V, V);
            double m = 0;
            foreach (float z in row) m += Math.Exp(z);
            expected += Math.Log(m) - row[targets[n]];
        }
        Assert.Equal(expected / 4, loss, 1e-5);
    }
}
