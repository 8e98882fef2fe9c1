// Reproducible test inputs: Gaussian rows plus the awkward shapes quantizers must survive.
namespace EdgeLM.Tests.Support;

public static class RandomData
{
    public static float[] Gaussian(int n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = scale * (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
        return x;
    }

    /// <summary>Rows of 256 chosen to hit edge cases: all zero, constant, one outlier, all positive,
    /// tiny values, mixed magnitudes.</summary>
    public static float[] AwkwardRows(int seed)
    {
        var g = Gaussian(6 * 256, seed);
        var x = new float[6 * 256];
        for (int i = 0; i < 256; i++)
        {
            x[i] = 0;
            x[256 + i] = 0.75f;
            x[512 + i] = i == 77 ? 40f : g[512 + i] * 0.01f;
            x[768 + i] = MathF.Abs(g[768 + i]) + 0.5f;
            x[1024 + i] = g[1024 + i] * 1e-6f;
            x[1280 + i] = g[1280 + i] * (i % 32 < 4 ? 100f : 1f);
        }
        return x;
    }
}
