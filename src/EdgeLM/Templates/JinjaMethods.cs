// Python methods that chat templates call on values: str.strip/lstrip/rstrip/split/startswith/
// endswith/upper/lower/title/capitalize/replace/find/count/join/splitlines and dict.items/keys/
// values/get. A method is bound to its receiver as a callable value; any other name is not a
// method (the caller then looks for a mapping key). List-mutating methods are absent, as in
// Hugging Face's ImmutableSandboxedEnvironment.
using System.Text;

namespace EdgeLM.Templates;

static class JinjaMethods
{
    public static JinjaValue? Bind(JinjaValue target, string name, SourcePos pos)
    {
        if (target.Kind == JinjaKind.String) return BindString(target.Str, name, pos);
        if (target.Kind == JinjaKind.Dict) return BindDict(target, name, pos);
        return null;
    }

    static JinjaValue Fn(Func<IReadOnlyList<JinjaValue>, JinjaValue> f) => JinjaValue.Function((args, _) => f(args));

    static JinjaValue ArgOr(IReadOnlyList<JinjaValue> args, int i) => i < args.Count ? args[i] : JinjaValue.None;

    static JinjaValue? BindString(string s, string name, SourcePos pos) => name switch
    {
        "strip" => Fn(a => JinjaValue.Of(Strip(s, ArgOr(a, 0), true, true))),
        "lstrip" => Fn(a => JinjaValue.Of(Strip(s, ArgOr(a, 0), true, false))),
        "rstrip" => Fn(a => JinjaValue.Of(Strip(s, ArgOr(a, 0), false, true))),
        "upper" => Fn(_ => JinjaValue.Of(s.ToUpperInvariant())),
        "lower" => Fn(_ => JinjaValue.Of(s.ToLowerInvariant())),
        "title" => Fn(_ => JinjaValue.Of(Title(s))),
        "capitalize" => Fn(_ => JinjaValue.Of(Capitalize(s))),
        "split" => Fn(a => Split(s, ArgOr(a, 0), ArgOr(a, 1), pos)),
        "splitlines" => Fn(_ => JinjaValue.Of(SplitLines(s).ConvertAll(JinjaValue.Of))),
        "startswith" => Fn(a => JinjaValue.Of(Affix(s, ArgOr(a, 0), start: true, pos))),
        "endswith" => Fn(a => JinjaValue.Of(Affix(s, ArgOr(a, 0), start: false, pos))),
        "replace" => Fn(a => Replace(JinjaValue.Of(s), ArgOr(a, 0), ArgOr(a, 1), ArgOr(a, 2), pos)),
        "find" => Fn(a => JinjaValue.Of((long)s.IndexOf(Text(ArgOr(a, 0), pos), StringComparison.Ordinal))),
        "count" => Fn(a => JinjaValue.Of(Count(s, Text(ArgOr(a, 0), pos)))),
        "join" => Fn(a => JinjaValue.Of(string.Join(s, JinjaEvaluator.Iterate(ArgOr(a, 0), pos).Select(x => Text(x, pos))))),
        _ => null,
    };

    static JinjaValue? BindDict(JinjaValue d, string name, SourcePos pos) => name switch
    {
        "items" => Fn(_ => JinjaEvaluator.ItemsOf(d, pos)),
        "keys" => Fn(_ => JinjaValue.Of(d.Dict.Keys.Select(JinjaValue.Of).ToList())),
        "values" => Fn(_ => JinjaValue.Of(d.Dict.Items().Select(kv => kv.Value).ToList())),
        "get" => Fn(a => a.Count > 0 && a[0].Kind == JinjaKind.String && d.Dict.TryGet(a[0].Str, out var v) ? v : ArgOr(a, 1)),
        _ => null,
    };

    static string Text(JinjaValue v, SourcePos pos) => v.Kind == JinjaKind.String
        ? v.Str
        : throw new ChatTemplateException($"expected a string argument, got '{JinjaEvaluator.TypeName(v)}'", pos);

    /// <summary>str.strip([chars]): whitespace by default, else any of the given characters.</summary>
    public static string Strip(string s, JinjaValue chars, bool left, bool right)
    {
        Func<char, bool> strip = chars.Kind == JinjaKind.String ? c => chars.Str.Contains(c, StringComparison.Ordinal) : char.IsWhiteSpace;
        int a = 0, b = s.Length;
        if (left) while (a < b && strip(s[a])) a++;
        if (right) while (b > a && strip(s[b - 1])) b--;
        return s[a..b];
    }

    static JinjaValue Split(string s, JinjaValue sep, JinjaValue maxsplit, SourcePos pos)
    {
        int max = maxsplit.Kind == JinjaKind.Int && maxsplit.Int >= 0 ? (int)Math.Min(maxsplit.Int, int.MaxValue - 1) : int.MaxValue - 1;
        string[] parts;
        if (sep.IsNone || sep.IsUndefined)
        {
            // Python: runs of whitespace separate, leading/trailing whitespace ignored.
            parts = s.Split((char[]?)null, max + 1, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 0) parts[^1] = parts[^1].TrimEnd();
        }
        else
        {
            string t = Text(sep, pos);
            if (t.Length == 0) throw new ChatTemplateException("empty separator", pos);
            parts = s.Split(t, max + 1);
        }
        return JinjaValue.Of(parts.Select(JinjaValue.Of).ToList());
    }

    static bool Affix(string s, JinjaValue arg, bool start, SourcePos pos)
    {
        if (arg.Kind == JinjaKind.List) return arg.List.Any(x => Affix(s, x, start, pos));
        string t = Text(arg, pos);
        return start ? s.StartsWith(t, StringComparison.Ordinal) : s.EndsWith(t, StringComparison.Ordinal);
    }

    public static JinjaValue Replace(JinjaValue s, JinjaValue old, JinjaValue @new, JinjaValue count, SourcePos pos)
    {
        string src = s.Str, o = Text(old, pos), n = Text(@new, pos);
        long max = count.Kind == JinjaKind.Int && count.Int >= 0 ? count.Int : long.MaxValue;
        if (max == long.MaxValue && o.Length > 0) return JinjaValue.Of(src.Replace(o, n, StringComparison.Ordinal));
        var sb = new StringBuilder();
        int i = 0;
        for (long done = 0; done < max; done++)
        {
            int j = o.Length == 0 ? (i <= src.Length ? i : -1) : src.IndexOf(o, i, StringComparison.Ordinal);
            if (j < 0) break;
            sb.Append(src, i, j - i).Append(n);
            if (o.Length == 0)
            {
                if (j < src.Length) sb.Append(src[j]);
                i = j + 1;
            }
            else i = j + o.Length;
        }
        if (i < src.Length) sb.Append(src, i, src.Length - i);
        return JinjaValue.Of(sb.ToString());
    }

    static long Count(string s, string t)
    {
        if (t.Length == 0) return s.Length + 1;
        long n = 0;
        for (int i = s.IndexOf(t, StringComparison.Ordinal); i >= 0; i = s.IndexOf(t, i + t.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    public static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] is not ('\n' or '\r')) continue;
            lines.Add(s[start..i]);
            if (s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    /// <summary>jinja2's title filter: upper-case the first letter of each word, lower the rest;
    /// words begin after whitespace, '-', '(', '{', '[' or '&lt;'.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            bool sep = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            sb.Append(sep ? c : wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = sep;
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
}
