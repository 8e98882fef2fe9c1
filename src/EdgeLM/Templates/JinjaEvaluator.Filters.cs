// Filters and tests used by chat templates, after jinja2 3.1's filters.py and tests.py; tojson is
// Hugging Face's override (json.dumps with ensure_ascii=False). A filter or test not listed here
// fails with an error naming it, so an unsupported template is reported rather than misrendered.
using System.Globalization;
using System.Text;

namespace EdgeLM.Templates;

sealed partial class JinjaEvaluator
{
    sealed record Args(IReadOnlyList<JinjaValue> Positional, IReadOnlyList<KeyValuePair<string, JinjaValue>> Named)
    {
        /// <summary>The argument at position <paramref name="i"/> or named <paramref name="name"/>.</summary>
        public JinjaValue Get(int i, string name)
        {
            foreach (var (k, v) in Named)
                if (k == name) return v;
            return i >= 0 && i < Positional.Count ? Positional[i] : JinjaValue.Missing(name);
        }
    }

    JinjaValue ApplyFilter(FilterExpr f, Scope scope)
    {
        var value = Eval(f.Target, scope);
        var pos = new List<JinjaValue>(f.Args.Count);
        foreach (var a in f.Args) pos.Add(Eval(a, scope));
        var named = new List<KeyValuePair<string, JinjaValue>>(f.Kwargs.Count);
        foreach (var (k, v) in f.Kwargs) named.Add(new(k, Eval(v, scope)));
        return Filter(f.Name, value, new Args(pos, named), f.Pos);
    }

    static JinjaValue Filter(string name, JinjaValue v, Args a, SourcePos pos)
    {
        switch (name)
        {
            case "safe": return v;
            case "string": return v.Kind == JinjaKind.String ? v : JinjaValue.Of(v.ToString());
            case "trim": return JinjaValue.Of(JinjaMethods.Strip(Str(v, name, pos), a.Get(0, "chars"), true, true));
            case "upper": return JinjaValue.Of(Str(v, name, pos).ToUpperInvariant());
            case "lower": return JinjaValue.Of(Str(v, name, pos).ToLowerInvariant());
            case "title": return JinjaValue.Of(JinjaMethods.Title(Str(v, name, pos)));
            case "capitalize": return JinjaValue.Of(JinjaMethods.Capitalize(Str(v, name, pos)));
            case "replace": return JinjaMethods.Replace(JinjaValue.Of(Str(v, name, pos)), a.Get(0, "old"), a.Get(1, "new"), a.Get(2, "count"), pos);
            case "length" or "count": return JinjaValue.Of(Length(v, pos));
            case "tojson": return JinjaValue.Of(JinjaJson.Dumps(v, a.Get(0, "indent"), a.Get(-1, "sort_keys").IsTruthy, pos));
            case "items": return ItemsOf(v, pos);
            case "list": return JinjaValue.Of([.. Iterate(v, pos)]);
            case "first": return FirstOrLast(v, first: true, pos);
            case "last": return FirstOrLast(v, first: false, pos);
            case "reverse": return Reverse(v, pos);
            case "join": return Join(v, a, pos);
            case "default" or "d":
                bool boolean = a.Get(1, "boolean").IsTruthy;
                var fallback = a.Get(0, "default_value");
                return v.IsUndefined || (boolean && !v.IsTruthy) ? (fallback.IsUndefined ? JinjaValue.EmptyString : fallback) : v;
            case "int": return ToInt(v, a.Get(0, "default"));
            case "float": return ToFloat(v, a.Get(0, "default"));
            case "abs": return v.Kind == JinjaKind.Float ? JinjaValue.Of(Math.Abs(v.Float)) : JinjaValue.Of(Math.Abs(v.Int));
            case "indent": return JinjaValue.Of(Indent(Str(v, name, pos), a));
            case "unique": return Unique(v, pos);
            case "selectattr" or "rejectattr": return SelectAttr(v, a, keep: name == "selectattr", pos);
            case "select" or "reject": return Select(v, a, keep: name == "select", pos);
            case "map": return Map(v, a, pos);
            case "sum": return Sum(v, a, pos);
            case "min" or "max": return MinMax(v, name == "min", pos);
            default: throw new ChatTemplateException($"unsupported filter '{name}'", pos);
        }
    }

    static string Str(JinjaValue v, string filter, SourcePos pos) =>
        v.Kind == JinjaKind.String ? v.Str
        : v.IsUndefined ? ""
        : v.Kind is JinjaKind.List or JinjaKind.Dict or JinjaKind.Namespace or JinjaKind.Callable
            ? throw new ChatTemplateException($"filter '{filter}' expects a string, got '{TypeName(v)}'", pos)
            : v.ToString();

    internal static long Length(JinjaValue v, SourcePos pos) => v.Kind switch
    {
        JinjaKind.String => v.Str.EnumerateRunes().Count(),
        JinjaKind.List => v.List.Count,
        JinjaKind.Dict or JinjaKind.Namespace => v.Dict.Count,
        JinjaKind.Undefined => 0,
        _ => throw new ChatTemplateException($"object of type '{TypeName(v)}' has no len()", pos),
    };

    internal static JinjaValue ItemsOf(JinjaValue v, SourcePos pos)
    {
        if (v.IsUndefined) return JinjaValue.Of([]);
        if (!v.IsMapping) throw new ChatTemplateException($"can only get item pairs from a mapping, not '{TypeName(v)}'", pos);
        var pairs = new List<JinjaValue>(v.Dict.Count);
        foreach (var (k, x) in v.Dict.Items()) pairs.Add(JinjaValue.Of([JinjaValue.Of(k), x]));
        return JinjaValue.Of(pairs);
    }

    static JinjaValue FirstOrLast(JinjaValue v, bool first, SourcePos pos)
    {
        var items = Iterate(v, pos);
        if (items.Count == 0) return JinjaValue.Missing(first ? "first" : "last");
        return first ? items[0] : items[^1];
    }

    static JinjaValue Reverse(JinjaValue v, SourcePos pos)
    {
        var items = Iterate(v, pos);
        var r = new List<JinjaValue>(items.Count);
        for (int i = items.Count - 1; i >= 0; i--) r.Add(items[i]);
        if (v.Kind != JinjaKind.String) return JinjaValue.Of(r);
        return JinjaValue.Of(string.Concat(r.Select(x => x.Str)));
    }

    static JinjaValue Join(JinjaValue v, Args a, SourcePos pos)
    {
        var sep = a.Get(0, "d");
        var attr = a.Get(1, "attribute");
        var sb = new StringBuilder();
        bool firstItem = true;
        foreach (var item in Iterate(v, pos))
        {
            if (!firstItem) sb.Append(sep.ToString());
            firstItem = false;
            sb.Append((attr.IsUndefined ? item : GetAttrPath(item, attr, pos)).ToString());
        }
        return JinjaValue.Of(sb.ToString());
    }

    static JinjaValue ToInt(JinjaValue v, JinjaValue fallback)
    {
        long def = fallback.IsUndefined ? 0 : fallback.Int;
        return v.Kind switch
        {
            JinjaKind.Int or JinjaKind.Bool => JinjaValue.Of(v.Int),
            JinjaKind.Float => JinjaValue.Of((long)Math.Truncate(v.Float)),
            JinjaKind.String when long.TryParse(v.Str.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) => JinjaValue.Of(l),
            JinjaKind.String when double.TryParse(v.Str.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => JinjaValue.Of((long)Math.Truncate(d)),
            _ => JinjaValue.Of(def),
        };
    }

    static JinjaValue ToFloat(JinjaValue v, JinjaValue fallback) => v.Kind switch
    {
        JinjaKind.Int or JinjaKind.Bool or JinjaKind.Float => JinjaValue.Of(v.AsDouble),
        JinjaKind.String when double.TryParse(v.Str.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => JinjaValue.Of(d),
        _ => JinjaValue.Of(fallback.IsUndefined ? 0.0 : fallback.AsDouble),
    };

    /// <summary>jinja2's indent: every line but the first (unless first=True) gets the prefix;
    /// blank lines only with blank=True.</summary>
    static string Indent(string s, Args a)
    {
        var w = a.Get(0, "width");
        string prefix = w.Kind == JinjaKind.String ? w.Str : new string(' ', w.IsUndefined ? 4 : (int)Math.Clamp(w.Int, 0, 1000));
        bool first = a.Get(1, "first").IsTruthy, blank = a.Get(2, "blank").IsTruthy;
        var lines = JinjaMethods.SplitLines(s + "\n");
        var sb = new StringBuilder(lines.Count > 0 ? lines[0] : "");
        for (int i = 1; i < lines.Count; i++)
        {
            sb.Append('\n');
            if (blank || lines[i].Length > 0) sb.Append(prefix);
            sb.Append(lines[i]);
        }
        return first ? prefix + sb : sb.ToString();
    }

    static JinjaValue Unique(JinjaValue v, SourcePos pos)
    {
        var result = new List<JinjaValue>();
        foreach (var item in Iterate(v, pos))
            if (!result.Exists(r => JinjaOps.Equal(r, item))) result.Add(item);
        return JinjaValue.Of(result);
    }

    /// <summary>Attribute lookup for filters: "a.b" walks nested keys.</summary>
    static JinjaValue GetAttrPath(JinjaValue item, JinjaValue attr, SourcePos pos)
    {
        if (attr.Kind == JinjaKind.Int) return GetItem(item, attr, pos);
        var cur = item;
        foreach (string part in attr.ToString().Split('.'))
        {
            if (cur.IsUndefined) return cur;
            cur = GetItem(cur, JinjaValue.Of(part), pos);
        }
        return cur;
    }

    static JinjaValue SelectAttr(JinjaValue v, Args a, bool keep, SourcePos pos)
    {
        var attr = a.Get(0, "attribute");
        string? test = a.Positional.Count > 1 ? a.Positional[1].Str : null;
        var testArgs = a.Positional.Skip(2).ToList();
        var result = new List<JinjaValue>();
        foreach (var item in Iterate(v, pos))
        {
            var x = GetAttrPath(item, attr, pos);
            bool ok = test is null ? x.IsTruthy : RunTest(test, x, testArgs, pos);
            if (ok == keep) result.Add(item);
        }
        return JinjaValue.Of(result);
    }

    static JinjaValue Select(JinjaValue v, Args a, bool keep, SourcePos pos)
    {
        string? test = a.Positional.Count > 0 ? a.Positional[0].Str : null;
        var testArgs = a.Positional.Skip(1).ToList();
        var result = new List<JinjaValue>();
        foreach (var item in Iterate(v, pos))
            if ((test is null ? item.IsTruthy : RunTest(test, item, testArgs, pos)) == keep) result.Add(item);
        return JinjaValue.Of(result);
    }

    static JinjaValue Map(JinjaValue v, Args a, SourcePos pos)
    {
        var attr = a.Get(-1, "attribute");
        var result = new List<JinjaValue>();
        if (!attr.IsUndefined)
        {
            var def = a.Get(-1, "default");
            foreach (var item in Iterate(v, pos))
            {
                var x = GetAttrPath(item, attr, pos);
                result.Add(x.IsUndefined && !def.IsUndefined ? def : x);
            }
            return JinjaValue.Of(result);
        }
        if (a.Positional.Count == 0) throw new ChatTemplateException("map needs a filter name or attribute=", pos);
        string filter = a.Positional[0].Str;
        var rest = new Args([.. a.Positional.Skip(1)], a.Named);
        foreach (var item in Iterate(v, pos)) result.Add(Filter(filter, item, rest, pos));
        return JinjaValue.Of(result);
    }

    static JinjaValue Sum(JinjaValue v, Args a, SourcePos pos)
    {
        var attr = a.Get(-1, "attribute");
        var total = a.Get(-1, "start") is { IsUndefined: false } s ? s : JinjaValue.Of(0L);
        foreach (var item in Iterate(v, pos))
            total = JinjaOps.Arithmetic("+", total, attr.IsUndefined ? item : GetAttrPath(item, attr, pos), pos);
        return total;
    }

    static JinjaValue MinMax(JinjaValue v, bool min, SourcePos pos)
    {
        JinjaValue? best = null;
        foreach (var item in Iterate(v, pos))
            if (best is null || JinjaOps.Compare(min ? "<" : ">", item, best, pos)) best = item;
        return best ?? JinjaValue.Missing(min ? "min" : "max");
    }
}
