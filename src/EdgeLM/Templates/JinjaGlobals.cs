// Global functions a chat template may call: range, namespace, dict (jinja2's defaults) and
// Hugging Face's raise_exception and strftime_now. Also the conversion of host data (JSON,
// dictionaries, lists, scalars) into template values.
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EdgeLM.Templates;

static class JinjaGlobals
{
    /// <summary>Longest list range() will build (templates use it over message counts).</summary>
    const long MaxRange = 1 << 20;

    public static IEnumerable<KeyValuePair<string, JinjaValue>> Functions(TimeProvider clock)
    {
        yield return new("raise_exception", JinjaValue.Function((args, _) =>
            throw new ChatTemplateException(args.Count > 0 ? args[0].ToString() : "raise_exception called", null, isRaised: true)));
        yield return new("strftime_now", JinjaValue.Function((args, _) =>
            JinjaValue.Of(Strftime(clock.GetLocalNow(), args.Count > 0 ? args[0].ToString() : ""))));
        yield return new("range", JinjaValue.Function((args, _) => Range(args)));
        yield return new("namespace", JinjaValue.Function((args, kwargs) => JinjaValue.Namespace(KwDict(args, kwargs))));
        yield return new("dict", JinjaValue.Function((args, kwargs) => JinjaValue.Of(KwDict(args, kwargs))));
    }

    static JinjaDict KwDict(IReadOnlyList<JinjaValue> args, IReadOnlyList<KeyValuePair<string, JinjaValue>> kwargs)
    {
        var d = new JinjaDict();
        foreach (var a in args)
            if (a.IsMapping) foreach (var (k, v) in a.Dict.Items()) d.Set(k, v);
        foreach (var (k, v) in kwargs) d.Set(k, v);
        return d;
    }

    static JinjaValue Range(IReadOnlyList<JinjaValue> args)
    {
        long start = 0, stop, step = 1;
        if (args.Count == 1) stop = args[0].Int;
        else if (args.Count >= 2) { start = args[0].Int; stop = args[1].Int; if (args.Count > 2) step = args[2].Int; }
        else throw new ChatTemplateException("range expects 1 to 3 arguments");
        if (step == 0) throw new ChatTemplateException("range() arg 3 must not be zero");
        var list = new List<JinjaValue>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (list.Count >= MaxRange) throw new ChatTemplateException($"range longer than {MaxRange}");
            list.Add(JinjaValue.Of(i));
        }
        return JinjaValue.Of(list);
    }

    /// <summary>Python's datetime.strftime for the C-locale directives templates use.</summary>
    public static string Strftime(DateTimeOffset t, string format)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            char d = format[++i];
            sb.Append(d switch
            {
                'd' => t.Day.ToString("00", ci),
                'm' => t.Month.ToString("00", ci),
                'Y' => t.Year.ToString("0000", ci),
                'y' => (t.Year % 100).ToString("00", ci),
                'H' => t.Hour.ToString("00", ci),
                'I' => ((t.Hour + 11) % 12 + 1).ToString("00", ci),
                'M' => t.Minute.ToString("00", ci),
                'S' => t.Second.ToString("00", ci),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'b' => t.ToString("MMM", ci),
                'B' => t.ToString("MMMM", ci),
                'a' => t.ToString("ddd", ci),
                'A' => t.ToString("dddd", ci),
                'j' => t.DayOfYear.ToString("000", ci),
                '%' => "%",
                _ => "%" + d,
            });
        }
        return sb.ToString();
    }
}

/// <summary>Host data to template values.</summary>
static class JinjaConvert
{
    const int MaxDepth = 256;

    public static JinjaValue FromJson(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return FromObject(doc.RootElement);
        }
        catch (JsonException e)
        {
            throw new ChatTemplateException($"tool-call arguments are not valid JSON: {e.Message}");
        }
    }

    public static JinjaValue FromObject(object? o, int depth = 0)
    {
        if (depth > MaxDepth) throw new ChatTemplateException("template variable nested too deeply");
        switch (o)
        {
            case null: return JinjaValue.None;
            case JinjaValue v: return v;
            case string s: return JinjaValue.Of(s);
            case bool b: return JinjaValue.Of(b);
            case int or long or short or byte or uint: return JinjaValue.Of(Convert.ToInt64(o, CultureInfo.InvariantCulture));
            case float or double or decimal: return JinjaValue.Of(Convert.ToDouble(o, CultureInfo.InvariantCulture));
            case JsonElement e: return FromJsonElement(e, depth);
            case IEnumerable<KeyValuePair<string, object?>> map:
                var d = new JinjaDict();
                foreach (var (k, v) in map) d.Set(k, FromObject(v, depth + 1));
                return JinjaValue.Of(d);
            case IEnumerable seq:
                var list = new List<JinjaValue>();
                foreach (object? x in seq) list.Add(FromObject(x, depth + 1));
                return JinjaValue.Of(list);
            default:
                throw new ChatTemplateException($"unsupported template variable type '{o.GetType().Name}'");
        }
    }

    static JinjaValue FromJsonElement(JsonElement e, int depth)
    {
        if (depth > MaxDepth) throw new ChatTemplateException("template variable nested too deeply");
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var d = new JinjaDict();
                foreach (var p in e.EnumerateObject()) d.Set(p.Name, FromJsonElement(p.Value, depth + 1));
                return JinjaValue.Of(d);
            case JsonValueKind.Array:
                var list = new List<JinjaValue>();
                foreach (var x in e.EnumerateArray()) list.Add(FromJsonElement(x, depth + 1));
                return JinjaValue.Of(list);
            case JsonValueKind.String: return JinjaValue.Of(e.GetString());
            case JsonValueKind.Number:
                // As Python's json: an integer literal is an int, anything with '.', 'e' a float.
                string raw = e.GetRawText();
                return raw.AsSpan().IndexOfAny(".eE") < 0 && e.TryGetInt64(out long l) ? JinjaValue.Of(l) : JinjaValue.Of(e.GetDouble());
            case JsonValueKind.True: return JinjaValue.True;
            case JsonValueKind.False: return JinjaValue.False;
            default: return JinjaValue.None;
        }
    }
}
