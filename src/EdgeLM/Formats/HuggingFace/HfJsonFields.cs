// Typed, validated reads of config.json fields: every failure is an InvalidModelFileException that
// names the file and the key. Counts are capped so a hostile config cannot size an allocation.
using System.Text.Json;

namespace EdgeLM.Formats.HuggingFace;

readonly struct Fields(string path, JsonElement obj, string prefix = "")
{
    /// <summary>Cap on any count (sizes, layers, heads, vocabulary): far above real models, far below overflow.</summary>
    const int MaxCount = 1 << 24;

    public int Int(string key) =>
        OptInt(key) ?? throw new InvalidModelFileException(path, $"config key '{prefix}{key}' is missing");

    public int? OptInt(string key)
    {
        if (!obj.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v) || v <= 0 || v > MaxCount)
            throw new InvalidModelFileException(path, $"config key '{prefix}{key}' is {e.GetRawText()}, expected an integer from 1 to {MaxCount}");
        return v;
    }

    public double? OptDouble(string key)
    {
        if (!obj.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double v) || !double.IsFinite(v) || v <= 0)
            throw new InvalidModelFileException(path, $"config key '{prefix}{key}' is {e.GetRawText()}, expected a positive number");
        return v;
    }

    public bool? OptBool(string key)
    {
        if (!obj.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidModelFileException(path, $"config key '{prefix}{key}' is {e.GetRawText()}, expected true or false"),
        };
    }

    public string? OptString(string key)
    {
        if (!obj.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        return e.ValueKind == JsonValueKind.String ? e.GetString()
            : throw new InvalidModelFileException(path, $"config key '{prefix}{key}' is {e.GetRawText()}, expected a string");
    }

    /// <summary>A token id; a list (Llama 3.1's several eos ids) gives its first.</summary>
    public int? OptTokenId(string key)
    {
        if (!obj.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() > 0) e = e[0];
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v) || v < 0)
            throw new InvalidModelFileException(path, $"config key '{prefix}{key}' is {e.GetRawText()}, expected a token id");
        return v;
    }
}
