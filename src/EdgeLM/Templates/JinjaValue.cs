// The values a chat template computes with: Python's None, bool, int, float, str, list and dict
// as Jinja2 sees them, plus Jinja's Undefined (a missing name or key), namespaces, macros and
// built-in callables. Not a general object model: there is no reflection and no host object.
// Semantics follow Python 3 (truthiness, equality, str()) as jinja2 3.1 exposes them.
using System.Globalization;
using System.Text;

namespace EdgeLM.Templates;

/// <summary>What kind of value a <see cref="JinjaValue"/> holds.</summary>
public enum JinjaKind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable }

/// <summary>A callable value: receives positional and keyword arguments.</summary>
public delegate JinjaValue JinjaCallable(IReadOnlyList<JinjaValue> args, IReadOnlyList<KeyValuePair<string, JinjaValue>> kwargs);

/// <summary>An ordered string-keyed mapping, as a Python dict built from JSON is.</summary>
public sealed class JinjaDict
{
    readonly Dictionary<string, JinjaValue> _map = new(StringComparer.Ordinal);
    readonly List<string> _keys = [];

    public int Count => _keys.Count;
    public IReadOnlyList<string> Keys => _keys;

    public void Set(string key, JinjaValue value)
    {
        if (!_map.ContainsKey(key)) _keys.Add(key);
        _map[key] = value;
    }

    public bool TryGet(string key, out JinjaValue value)
    {
        if (_map.TryGetValue(key, out var v)) { value = v; return true; }
        value = JinjaValue.Undefined;
        return false;
    }

    public bool ContainsKey(string key) => _map.ContainsKey(key);

    public IEnumerable<KeyValuePair<string, JinjaValue>> Items()
    {
        foreach (string k in _keys) yield return new(k, _map[k]);
    }
}

/// <summary>One value of the template language. Immutable except for namespaces.</summary>
public sealed class JinjaValue
{
    public static readonly JinjaValue Undefined = new(JinjaKind.Undefined);
    public static readonly JinjaValue None = new(JinjaKind.None);
    public static readonly JinjaValue True = new(JinjaKind.Bool) { Int = 1 };
    public static readonly JinjaValue False = new(JinjaKind.Bool);
    public static readonly JinjaValue EmptyString = new(JinjaKind.String) { Str = "" };

    JinjaValue(JinjaKind kind) => Kind = kind;

    public JinjaKind Kind { get; }
    public long Int { get; private init; }
    public double Float { get; private init; }
    public string Str { get; private init; } = "";
    public IReadOnlyList<JinjaValue> List { get; private init; } = [];
    public JinjaDict Dict { get; private init; } = EmptyDict;
    public JinjaCallable? Callable { get; private init; }

    /// <summary>For Undefined: the name that was missing, used in error messages.</summary>
    public string? UndefinedName { get; private init; }

    static readonly JinjaDict EmptyDict = new();

    public static JinjaValue Of(bool b) => b ? True : False;
    public static JinjaValue Of(long i) => new(JinjaKind.Int) { Int = i };
    public static JinjaValue Of(double d) => new(JinjaKind.Float) { Float = d };
    public static JinjaValue Of(string? s) => s is null ? None : s.Length == 0 ? EmptyString : new(JinjaKind.String) { Str = s };
    public static JinjaValue Of(IReadOnlyList<JinjaValue> list) => new(JinjaKind.List) { List = list };
    public static JinjaValue Of(JinjaDict dict) => new(JinjaKind.Dict) { Dict = dict };
    public static JinjaValue Namespace(JinjaDict attrs) => new(JinjaKind.Namespace) { Dict = attrs };
    public static JinjaValue Function(JinjaCallable f) => new(JinjaKind.Callable) { Callable = f };
    public static JinjaValue Missing(string name) => new(JinjaKind.Undefined) { UndefinedName = name };

    public bool IsUndefined => Kind == JinjaKind.Undefined;
    public bool IsNone => Kind == JinjaKind.None;
    public bool IsNumber => Kind is JinjaKind.Int or JinjaKind.Float or JinjaKind.Bool;
    public bool IsMapping => Kind is JinjaKind.Dict or JinjaKind.Namespace;

    /// <summary>The number as a double (bool counts as 0/1, as in Python).</summary>
    public double AsDouble => Kind == JinjaKind.Float ? Float : Int;

    /// <summary>Python truthiness; Undefined is falsy.</summary>
    public bool IsTruthy => Kind switch
    {
        JinjaKind.Undefined or JinjaKind.None => false,
        JinjaKind.Bool or JinjaKind.Int => Int != 0,
        JinjaKind.Float => Float != 0,
        JinjaKind.String => Str.Length > 0,
        JinjaKind.List => List.Count > 0,
        JinjaKind.Dict => Dict.Count > 0,
        _ => true,
    };

    /// <summary>Python's str(): what <c>{{ x }}</c> prints (Undefined prints nothing).</summary>
    public override string ToString() => Kind switch
    {
        JinjaKind.Undefined => "",
        JinjaKind.String => Str,
        _ => Repr(),
    };

    /// <summary>Python's repr(), used for values nested in lists and dicts.</summary>
    public string Repr()
    {
        var sb = new StringBuilder();
        AppendRepr(sb);
        return sb.ToString();
    }

    void AppendRepr(StringBuilder sb)
    {
        switch (Kind)
        {
            case JinjaKind.Undefined: break;
            case JinjaKind.None: sb.Append("None"); break;
            case JinjaKind.Bool: sb.Append(Int != 0 ? "True" : "False"); break;
            case JinjaKind.Int: sb.Append(Int.ToString(CultureInfo.InvariantCulture)); break;
            case JinjaKind.Float: sb.Append(FormatFloat(Float)); break;
            case JinjaKind.String: AppendStringRepr(sb, Str); break;
            case JinjaKind.List:
                sb.Append('[');
                for (int i = 0; i < List.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    List[i].AppendRepr(sb);
                }
                sb.Append(']');
                break;
            case JinjaKind.Dict:
                sb.Append('{');
                bool first = true;
                foreach (var (k, v) in Dict.Items())
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendStringRepr(sb, k);
                    sb.Append(": ");
                    v.AppendRepr(sb);
                }
                sb.Append('}');
                break;
            case JinjaKind.Namespace: sb.Append("<Namespace>"); break;
            default: sb.Append("<function>"); break;
        }
    }

    static void AppendStringRepr(StringBuilder sb, string s)
    {
        // Python prefers single quotes unless the string contains one and no double quote.
        char q = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        sb.Append(q);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == q) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append(q);
    }

    /// <summary>Python's repr(float): shortest round-trip digits, ".0" on integers,
    /// exponent form from 1e16 up and below 1e-4.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOf('E', StringComparison.Ordinal);
        string mantissa = e < 0 ? r : r[..e];
        int exp = e < 0 ? 0 : int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
        // Recompute the decimal exponent to decide between the two forms as Python does.
        double abs = Math.Abs(d);
        int decExp = (int)Math.Floor(Math.Log10(abs));
        if (decExp >= 16 || decExp < -4)
        {
            string digits = mantissa.Replace(".", "", StringComparison.Ordinal).TrimStart('-').TrimStart('0');
            digits = digits.TrimEnd('0');
            if (digits.Length == 0) digits = "0";
            string m = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
            string sign = d < 0 ? "-" : "";
            return sign + m + "e" + (decExp < 0 ? "-" : "+") + Math.Abs(decExp).ToString("00", CultureInfo.InvariantCulture);
        }
        if (e >= 0)
            r = d.ToString("F" + Math.Max(0, -exp + 17).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture).TrimEnd('0');
        if (!r.Contains('.', StringComparison.Ordinal)) r += ".0";
        else if (r.EndsWith('.')) r += "0";
        return r;
    }
}
