// The Markdown form of a comparison: a header with the CPU, date, command and bandwidth, then one
// table row per model × threads. Throughputs are medians of the repeats; ratios are EdgeLM ÷
// llama.cpp (above 1 means EdgeLM is faster); roofline is decode tok/s ÷ (bandwidth ÷ weight
// bytes read per token), the fraction of the memory-bound ceiling reached.
using System.Globalization;
using System.Text;

namespace EdgeLM.Bench;

public static class Report
{
    public static string CpuModel()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path)) return "unknown CPU";
        return CpuModel(File.ReadAllText(path)) ?? "unknown CPU";
    }

    /// <summary>The first "model name" of /proc/cpuinfo text, with the logical CPU count.</summary>
    public static string? CpuModel(string cpuinfo)
    {
        string? model = null, isa = null;
        int count = 0;
        foreach (var line in cpuinfo.Split('\n'))
        {
            if (isa is null && line.StartsWith("flags", StringComparison.Ordinal))
                isa = line.Contains(" avx512f", StringComparison.Ordinal) ? ", AVX-512" : line.Contains(" avx2", StringComparison.Ordinal) ? ", AVX2" : "";
            if (!line.StartsWith("model name", StringComparison.Ordinal)) continue;
            count++;
            model ??= line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        return model is null ? null : $"{model} ({count} logical CPUs{isa})";
    }

    public static string Markdown(CompareReport r)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"CPU: {r.Cpu}; date: {r.Date}; command: `{r.Command}`");
        sb.AppendLine(inv, $"Read bandwidth: {string.Join(", ", r.BandwidthBytesPerSecond.Select(kv => $"{kv.Key} thread(s) {kv.Value / 1e9:F2} GB/s"))}; models cached in {r.CacheDir}");
        sb.AppendLine();
        sb.AppendLine("| model | type | thr | EdgeLM pp t/s | EdgeLM tg t/s | llama.cpp pp t/s | llama.cpp tg t/s | pp E/L | tg E/L | roofline E | roofline L | EdgeLM peak RSS (file + KV) | decode alloc B |");
        sb.AppendLine("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|");
        foreach (var row in r.Rows)
        {
            var e = row.EdgeLm;
            var l = row.LlamaCpp;
            string rss = e is null ? "-" : $"{Mb(e.Memory.PeakRssBytes)} ({Mb(row.FileBytes)} + {Mb(e.KvCacheBytes)})";
            sb.AppendLine(inv, $"| {row.Shape} | {row.Type} | {row.Threads} | {F(e?.PrefillTokensPerSecond, row.EdgeLmError)} | {F(e?.DecodeTokensPerSecond, row.EdgeLmError)} | {F(l?.PrefillTokensPerSecond, row.LlamaCppError)} | {F(l?.DecodeTokensPerSecond, row.LlamaCppError)} | {Ratio(e?.PrefillTokensPerSecond, l?.PrefillTokensPerSecond)} | {Ratio(e?.DecodeTokensPerSecond, l?.DecodeTokensPerSecond)} | {Pct(row.RooflineEdgeLm)} | {Pct(row.RooflineLlamaCpp)} | {rss} | {e?.DecodeAllocatedBytes?.ToString(inv) ?? "-"} |");
        }
        var errors = r.Rows.SelectMany(row => new[] { (row, "EdgeLM", row.EdgeLmError), (row, "llama.cpp", row.LlamaCppError) }).Where(x => x.Item3 is not null).ToList();
        if (errors.Count > 0)
        {
            sb.AppendLine();
            foreach (var (row, engine, error) in errors)
                sb.AppendLine(inv, $"- {row.Shape} {row.Type} {row.Threads} thr, {engine}: {error}");
        }
        return sb.ToString();
    }

    static string F(double? v, string? error) => v is double d ? d.ToString(d < 10 ? "F2" : "F1", CultureInfo.InvariantCulture) : error is null ? "-" : "error";
    static string Ratio(double? a, double? b) => a is double x && b is double y && y > 0 ? (x / y).ToString("F2", CultureInfo.InvariantCulture) : "-";
    static string Pct(double f) => double.IsNaN(f) ? "-" : (f * 100).ToString("F0", CultureInfo.InvariantCulture) + "%";
    static string Mb(long bytes) => (bytes / 1e6).ToString("F0", CultureInfo.InvariantCulture) + " MB";
}
