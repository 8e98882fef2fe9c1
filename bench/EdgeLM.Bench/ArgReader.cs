// Command-line options of the form "--name value", "-p value" or "--flag". Every option a command
// does not read is a hard error that names it, so a misspelt flag never silently falls back to a
// default and skews a measurement. Not a general parser: no bundling, no "=" syntax.
using System.Globalization;

namespace EdgeLM.Bench;

public sealed class ArgReader
{
    readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    readonly HashSet<string> _read = new(StringComparer.Ordinal);

    ArgReader() { }

    /// <summary>Splits args into options; a token that starts with '-' and is not a number begins a new option.</summary>
    public static ArgReader Parse(IReadOnlyList<string> args)
    {
        var r = new ArgReader();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (!IsOption(a)) throw new ArgumentException($"unexpected argument '{a}' (options start with '-')");
            string? value = i + 1 < args.Count && !IsOption(args[i + 1]) ? args[++i] : null;
            if (!r._values.TryAdd(a, value)) throw new ArgumentException($"option '{a}' is given twice");
        }
        return r;
    }

    static bool IsOption(string s) => s.Length > 1 && s[0] == '-' && !double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    public string? String(string name, string? fallback = null)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out var v)) return fallback;
        return v ?? throw new ArgumentException($"option '{name}' needs a value");
    }

    public string Required(string name) => String(name) ?? throw new ArgumentException($"option '{name}' is required");

    public int Int(string name, int fallback)
    {
        string? s = String(name);
        if (s is null) return fallback;
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 0
            ? v : throw new ArgumentException($"option '{name}' needs a non-negative integer, not '{s}'");
    }

    /// <summary>A comma-separated list, e.g. "--threads 1,2".</summary>
    public string[] List(string name, string fallback) =>
        String(name, fallback)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public bool Flag(string name)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out var v)) return false;
        return v is null ? true : throw new ArgumentException($"option '{name}' takes no value (got '{v}')");
    }

    /// <summary>Throws for any option no one asked for.</summary>
    public void RejectUnknown(string command)
    {
        var unknown = _values.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"unknown option(s) for '{command}': {string.Join(", ", unknown)}");
    }
}
