// The tojson filter as Hugging Face defines it: Python's json.dumps(x, ensure_ascii=False,
// indent=indent, sort_keys=...), so separators are ", " and ": " without indent, "," and ": " with
// it; non-ASCII text is written as is; floats use Python's repr. Not jinja2's own tojson (which
// HTML-escapes). Undefined and callables are not serializable, as in Python.
using System.Globalization;
using System.Text;

namespace EdgeLM.Templates;

static class JinjaJson
{
    /// <summary>Deepest nesting written before giving up (input is data, but keep the stack safe).</summary>
    const int MaxDepth = 256;

    public static string Dumps(JinjaValue v, JinjaValue indent, bool sortKeys, SourcePos pos)
    {
        string? ind = indent.Kind switch
        {
            JinjaKind.Int => new string(' ', (int)Math.Clamp(indent.Int, 0, 64)),
            JinjaKind.String => indent.Str,
            _ => null,
        };
        var sb = new StringBuilder();
        Write(sb, v, ind, sortKeys, 0, pos);
        return sb.ToString();
    }

    static void Write(StringBuilder sb, JinjaValue v, string? ind, bool sortKeys, int depth, SourcePos pos)
    {
        if (depth > MaxDepth) throw new ChatTemplateException("tojson: value nested too deeply", pos);
        switch (v.Kind)
        {
            case JinjaKind.None: sb.Append("null"); break;
            case JinjaKind.Bool: sb.Append(v.Int != 0 ? "true" : "false"); break;
            case JinjaKind.Int: sb.Append(v.Int.ToString(CultureInfo.InvariantCulture)); break;
            case JinjaKind.Float:
                sb.Append(double.IsNaN(v.Float) ? "NaN" : double.IsInfinity(v.Float) ? (v.Float > 0 ? "Infinity" : "-Infinity") : JinjaValue.FormatFloat(v.Float));
                break;
            case JinjaKind.String: WriteString(sb, v.Str); break;
            case JinjaKind.List:
                if (v.List.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (int i = 0; i < v.List.Count; i++)
                {
                    Separator(sb, ind, depth + 1, i == 0);
                    Write(sb, v.List[i], ind, sortKeys, depth + 1, pos);
                }
                Close(sb, ind, depth, ']');
                break;
            case JinjaKind.Dict:
                if (v.Dict.Count == 0) { sb.Append("{}"); break; }
                sb.Append('{');
                IEnumerable<string> keys = sortKeys ? v.Dict.Keys.Order(StringComparer.Ordinal) : v.Dict.Keys;
                bool first = true;
                foreach (string k in keys)
                {
                    Separator(sb, ind, depth + 1, first);
                    first = false;
                    WriteString(sb, k);
                    sb.Append(": ");
                    v.Dict.TryGet(k, out var x);
                    Write(sb, x, ind, sortKeys, depth + 1, pos);
                }
                Close(sb, ind, depth, '}');
                break;
            default:
                throw new ChatTemplateException($"Object of type {JinjaEvaluator.TypeName(v)} is not JSON serializable", pos);
        }
    }

    static void Separator(StringBuilder sb, string? ind, int depth, bool first)
    {
        if (ind is null)
        {
            if (!first) sb.Append(", ");
            return;
        }
        if (!first) sb.Append(',');
        sb.Append('\n');
        for (int i = 0; i < depth; i++) sb.Append(ind);
    }

    static void Close(StringBuilder sb, string? ind, int depth, char c)
    {
        if (ind is not null)
        {
            sb.Append('\n');
            for (int i = 0; i < depth; i++) sb.Append(ind);
        }
        sb.Append(c);
    }

    static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
