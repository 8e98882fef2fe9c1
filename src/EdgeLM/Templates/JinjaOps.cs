// Python 3 operators on template values: deep equality, ordering, membership and arithmetic,
// with Python's error for mixed types ('can only concatenate str (not "int") to str').
namespace EdgeLM.Templates;

static class JinjaOps
{
    public static bool Equal(JinjaValue a, JinjaValue b)
    {
        if (a.IsNumber && b.IsNumber)
            return a.Kind == JinjaKind.Float || b.Kind == JinjaKind.Float ? a.AsDouble == b.AsDouble : a.Int == b.Int;
        if (a.Kind != b.Kind) return false;
        switch (a.Kind)
        {
            case JinjaKind.Undefined or JinjaKind.None: return true;
            case JinjaKind.String: return a.Str == b.Str;
            case JinjaKind.List:
                if (a.List.Count != b.List.Count) return false;
                for (int i = 0; i < a.List.Count; i++)
                    if (!Equal(a.List[i], b.List[i])) return false;
                return true;
            case JinjaKind.Dict:
                if (a.Dict.Count != b.Dict.Count) return false;
                foreach (var (k, v) in a.Dict.Items())
                    if (!b.Dict.TryGet(k, out var w) || !Equal(v, w)) return false;
                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    public static bool Compare(string op, JinjaValue a, JinjaValue b, SourcePos pos)
    {
        int c;
        if (a.IsNumber && b.IsNumber) c = a.AsDouble.CompareTo(b.AsDouble);
        else if (a.Kind == JinjaKind.String && b.Kind == JinjaKind.String) c = string.CompareOrdinal(a.Str, b.Str);
        else throw new ChatTemplateException(
            $"'{op}' not supported between instances of '{JinjaEvaluator.TypeName(a)}' and '{JinjaEvaluator.TypeName(b)}'", pos);
        return op switch { "<" => c < 0, "<=" => c <= 0, ">" => c > 0, _ => c >= 0 };
    }

    /// <summary>Python's <c>needle in haystack</c>.</summary>
    public static bool Contains(JinjaValue haystack, JinjaValue needle, SourcePos pos)
    {
        switch (haystack.Kind)
        {
            case JinjaKind.String:
                if (needle.Kind != JinjaKind.String)
                    throw new ChatTemplateException($"'in <string>' requires string as left operand, not {JinjaEvaluator.TypeName(needle)}", pos);
                return haystack.Str.Contains(needle.Str, StringComparison.Ordinal);
            case JinjaKind.List:
                foreach (var item in haystack.List)
                    if (Equal(item, needle)) return true;
                return false;
            case JinjaKind.Dict or JinjaKind.Namespace:
                return needle.Kind == JinjaKind.String && haystack.Dict.ContainsKey(needle.Str);
            case JinjaKind.Undefined:
                return false;
            default:
                throw new ChatTemplateException($"argument of type '{JinjaEvaluator.TypeName(haystack)}' is not iterable", pos);
        }
    }

    public static JinjaValue Arithmetic(string op, JinjaValue a, JinjaValue b, SourcePos pos)
    {
        if (a.IsUndefined || b.IsUndefined)
            throw new ChatTemplateException(
                $"'{(a.IsUndefined ? a : b).UndefinedName ?? "value"}' is undefined (operand of '{op}')", pos);
        if (a.IsNumber && b.IsNumber) return Numeric(op, a, b, pos);
        if (op == "+" && a.Kind == JinjaKind.String && b.Kind == JinjaKind.String) return JinjaValue.Of(a.Str + b.Str);
        if (op == "+" && a.Kind == JinjaKind.List && b.Kind == JinjaKind.List) return JinjaValue.Of([.. a.List, .. b.List]);
        if (op == "*" && (a.Kind == JinjaKind.String || b.Kind == JinjaKind.String))
        {
            var (s, n) = a.Kind == JinjaKind.String ? (a, b) : (b, a);
            if (n.Kind is JinjaKind.Int or JinjaKind.Bool)
                return JinjaValue.Of(string.Concat(Enumerable.Repeat(s.Str, (int)Math.Clamp(n.Int, 0, 1 << 20))));
        }
        if (op == "+" && a.Kind == JinjaKind.String)
            throw new ChatTemplateException($"can only concatenate str (not \"{JinjaEvaluator.TypeName(b)}\") to str", pos);
        throw new ChatTemplateException(
            $"unsupported operand type(s) for {op}: '{JinjaEvaluator.TypeName(a)}' and '{JinjaEvaluator.TypeName(b)}'", pos);
    }

    static JinjaValue Numeric(string op, JinjaValue a, JinjaValue b, SourcePos pos)
    {
        bool ints = a.Kind != JinjaKind.Float && b.Kind != JinjaKind.Float;
        if (op is "/" or "//" or "%" && b.AsDouble == 0)
            throw new ChatTemplateException("division by zero", pos);
        switch (op)
        {
            case "+": return ints ? JinjaValue.Of(a.Int + b.Int) : JinjaValue.Of(a.AsDouble + b.AsDouble);
            case "-": return ints ? JinjaValue.Of(a.Int - b.Int) : JinjaValue.Of(a.AsDouble - b.AsDouble);
            case "*": return ints ? JinjaValue.Of(a.Int * b.Int) : JinjaValue.Of(a.AsDouble * b.AsDouble);
            case "/": return JinjaValue.Of(a.AsDouble / b.AsDouble);
            case "//":
                if (ints) return JinjaValue.Of(FloorDiv(a.Int, b.Int));
                return JinjaValue.Of(Math.Floor(a.AsDouble / b.AsDouble));
            case "%":
                if (ints) return JinjaValue.Of(a.Int - (FloorDiv(a.Int, b.Int) * b.Int));
                double m = a.AsDouble % b.AsDouble;
                return JinjaValue.Of(m != 0 && (m < 0) != (b.AsDouble < 0) ? m + b.AsDouble : m);
            case "**":
                if (ints && b.Int >= 0) return JinjaValue.Of((long)Math.Pow(a.Int, b.Int));
                return JinjaValue.Of(Math.Pow(a.AsDouble, b.AsDouble));
            default: throw new ChatTemplateException($"unsupported operator '{op}'", pos);
        }
    }

    static long FloorDiv(long a, long b)
    {
        long q = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
    }
}
