// Small statistics for repeated timings: the median is what the tables quote, since a shared
// machine adds one-sided noise (another process takes a core) that a mean would absorb.
namespace EdgeLM.Bench;

public static class Stats
{
    public static double Median(IReadOnlyList<double> xs)
    {
        if (xs.Count == 0) return double.NaN;
        var s = xs.Order().ToArray();
        int m = s.Length / 2;
        return s.Length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }

    /// <summary>Roofline fraction: measured decode rate ÷ the rate at which the weights read per token
    /// could be streamed at the measured bandwidth.</summary>
    public static double RooflineFraction(double tokensPerSecond, double bandwidthBytesPerSecond, long bytesPerToken) =>
        bandwidthBytesPerSecond <= 0 || bytesPerToken <= 0 ? double.NaN
        : tokensPerSecond / (bandwidthBytesPerSecond / bytesPerToken);
}
