// Resident memory of this process from Linux's /proc/self/status (proc(5)): VmHWM is the peak
// resident set; RssAnon (heap, KV cache, scratch) and RssFile (mapped model file pages) split the
// current one. A memory-mapped model counts in RssFile once its pages are touched.
namespace EdgeLM.Bench;

public readonly record struct MemoryUse(long PeakRssBytes, long RssBytes, long RssAnonBytes, long RssFileBytes)
{
    /// <summary>Reads /proc/self/status; zeros where it is not available (not Linux).</summary>
    public static MemoryUse Current() =>
        File.Exists("/proc/self/status") ? Parse(File.ReadAllText("/proc/self/status")) : default;

    /// <summary>Parses the text of /proc/[pid]/status; the fields are "Name:  value kB".</summary>
    public static MemoryUse Parse(string status)
    {
        long hwm = 0, rss = 0, anon = 0, file = 0;
        foreach (var line in status.Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) continue;
            string key = line[..colon];
            ref long target = ref hwm;
            switch (key)
            {
                case "VmHWM": target = ref hwm; break;
                case "VmRSS": target = ref rss; break;
                case "RssAnon": target = ref anon; break;
                case "RssFile": target = ref file; break;
                default: continue;
            }
            target = ParseKiB(line[(colon + 1)..], key);
        }
        return new MemoryUse(hwm, rss, anon, file);
    }

    static long ParseKiB(string value, string key)
    {
        var parts = value.Split(' ', '\t').Where(p => p.Length > 0).ToArray();
        if (parts.Length != 2 || parts[1] != "kB" || !long.TryParse(parts[0], out long kib))
            throw new FormatException($"/proc status field '{key}' is not '<n> kB': '{value.Trim()}'");
        return kib * 1024;
    }
}
