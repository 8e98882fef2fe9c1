// Training layer: causal grouped-query self-attention with the softmax inside, as the engine computes
// it (scores scaled by 1/sqrt(D), positions t2 ≤ t, query head h reads key/value head h / (Hq/Hkv)).
// The probabilities are kept for the backward pass (llm.c's att buffer). Work is split over
// (batch, key/value head): an item owns the Hq/Hkv query heads of one group, so the gradients of
// that group's keys and values are written by one worker only.
// Legend: B = batch, T = time, Hq / Hkv = query / key-value heads, D = head size, G = Hq / Hkv.
using EdgeLM.Kernels;

namespace EdgeLM.Training.Layers;

public static unsafe class Attention
{
    [ThreadStatic] static AttentionJob? t_job;

    /// <summary>out (B, T, Hq, D) and att (B, Hq, T, T) from q (B, T, Hq, D), k and v (B, T, Hkv, D).</summary>
    public static void Forward(Span<float> output, Span<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        int B, int T, int Hq, int Hkv, int D, WorkerPool? pool = null)
    {
        fixed (float* o = output) fixed (float* a = att) fixed (float* qp = q) fixed (float* kp = k) fixed (float* vp = v)
            Run(false, o, a, qp, kp, vp, null, null, null, B, T, Hq, Hkv, D, pool);
    }

    /// <summary>dq (B, T, Hq, D), dk and dv (B, T, Hkv, D) += gradients given dout (B, T, Hq, D).</summary>
    public static void Backward(Span<float> dq, Span<float> dk, Span<float> dv, ReadOnlySpan<float> dout, ReadOnlySpan<float> q,
        ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> att, int B, int T, int Hq, int Hkv, int D, WorkerPool? pool = null)
    {
        fixed (float* dqp = dq) fixed (float* dkp = dk) fixed (float* dvp = dv) fixed (float* dy = dout)
        fixed (float* qp = q) fixed (float* kp = k) fixed (float* vp = v) fixed (float* a = att)
            Run(true, dy, a, qp, kp, vp, dqp, dkp, dvp, B, T, Hq, Hkv, D, pool);
    }

    static void Run(bool backward, float* o, float* a, float* q, float* k, float* v, float* dq, float* dk, float* dv,
        int B, int T, int Hq, int Hkv, int D, WorkerPool? pool)
    {
        var job = t_job ??= new AttentionJob();
        job.Set(backward, o, a, q, k, v, dq, dk, dv, B, T, Hq, Hkv, D);
        if (pool is null) job.Execute(0, B * Hkv);
        else pool.For(B * Hkv, 1, job);
    }
}

sealed unsafe class AttentionJob : IParallelJob
{
    [ThreadStatic] static float[]? t_row;

    bool _backward;
    float* _o, _att, _q, _k, _v, _dq, _dk, _dv;
    int _b, _t, _hq, _hkv, _d;

    public void Set(bool backward, float* o, float* att, float* q, float* k, float* v, float* dq, float* dk, float* dv,
        int B, int T, int Hq, int Hkv, int D)
    {
        _backward = backward; _o = o; _att = att; _q = q; _k = k; _v = v; _dq = dq; _dk = dk; _dv = dv;
        (_b, _t, _hq, _hkv, _d) = (B, T, Hq, Hkv, D);
    }

    public void Execute(int start, int end)
    {
        int T = _t, G = _hq / _hkv;
        var row = t_row is { } r && r.Length >= T ? r : (t_row = new float[T]);
        fixed (float* scratch = row)
        {
            for (int item = start; item < end; item++)
            {
                int b = item / _hkv, kvh = item % _hkv;
                for (int g = 0; g < G; g++)
                    for (int t = 0; t < T; t++)
                    {
                        if (_backward) BackwardRow(b, kvh * G + g, kvh, t, scratch);
                        else ForwardRow(b, kvh * G + g, kvh, t);
                    }
            }
        }
    }

    void ForwardRow(int b, int h, int kvh, int t)
    {
        int T = _t, D = _d;
        float scale = 1.0f / MathF.Sqrt(D);
        float* q = _q + ((long)(b * T + t) * _hq + h) * D;
        float* att = _att + (((long)b * _hq + h) * T + t) * T;
        for (int t2 = 0; t2 <= t; t2++)
            att[t2] = scale * LinearKernels.Dot(q, _k + ((long)(b * T + t2) * _hkv + kvh) * D, D);
        Activations.Softmax(new Span<float>(att, t + 1));
        new Span<float>(att + t + 1, T - t - 1).Clear();
        float* o = _o + ((long)(b * T + t) * _hq + h) * D;
        new Span<float>(o, D).Clear();
        for (int t2 = 0; t2 <= t; t2++)
            LinearKernels.Axpy(o, att[t2], _v + ((long)(b * T + t2) * _hkv + kvh) * D, D);
    }

    // _o holds dout here.
    void BackwardRow(int b, int h, int kvh, int t, float* datt)
    {
        int T = _t, D = _d;
        float scale = 1.0f / MathF.Sqrt(D);
        long qo = ((long)(b * T + t) * _hq + h) * D;
        float* att = _att + (((long)b * _hq + h) * T + t) * T;
        float* dy = _o + qo;
        // forward: out = Σt2 att[t2] v[t2]  ⇒  datt[t2] = dout · v[t2], dv[t2] += att[t2] dout
        for (int t2 = 0; t2 <= t; t2++)
        {
            long kv = ((long)(b * T + t2) * _hkv + kvh) * D;
            datt[t2] = LinearKernels.Dot(dy, _v + kv, D);
            LinearKernels.Axpy(_dv + kv, att[t2], dy, D);
        }
        // forward: att = softmax(pre)  ⇒  dpre[t2] = att[t2] (datt[t2] - Σ att · datt)
        float s = 0;
        for (int t2 = 0; t2 <= t; t2++) s += att[t2] * datt[t2];
        // forward: pre[t2] = scale · q · k[t2]  ⇒  dq += scale dpre[t2] k[t2], dk[t2] += scale dpre[t2] q
        for (int t2 = 0; t2 <= t; t2++)
        {
            float dpre = scale * att[t2] * (datt[t2] - s);
            long kv = ((long)(b * T + t2) * _hkv + kvh) * D;
            LinearKernels.Axpy(_dq + qo, dpre, _k + kv, D);
            LinearKernels.Axpy(_dk + kv, dpre, _q + qo, D);
        }
    }
}
