// Jinja tests ('x is defined', 'x is not none', 'x is equalto 3'...), after jinja2 3.1's tests.py.
namespace EdgeLM.Templates;

sealed partial class JinjaEvaluator
{
    bool ApplyTest(TestExpr t, Scope scope)
    {
        var value = Eval(t.Target, scope);
        var args = new List<JinjaValue>(t.Args.Count);
        foreach (var a in t.Args) args.Add(Eval(a, scope));
        return RunTest(t.Name, value, args, t.Pos);
    }

    static bool RunTest(string name, JinjaValue v, IReadOnlyList<JinjaValue> args, SourcePos pos)
    {
        JinjaValue Arg() => args.Count > 0 ? args[0] : throw new ChatTemplateException($"test '{name}' needs an argument", pos);
        return name switch
        {
            "defined" => !v.IsUndefined,
            "undefined" => v.IsUndefined,
            "none" => v.IsNone,
            "boolean" => v.Kind == JinjaKind.Bool,
            "true" => v.Kind == JinjaKind.Bool && v.Int != 0,
            "false" => v.Kind == JinjaKind.Bool && v.Int == 0,
            "integer" => v.Kind == JinjaKind.Int,
            "float" => v.Kind == JinjaKind.Float,
            "number" => v.IsNumber,
            "string" => v.Kind == JinjaKind.String,
            "mapping" => v.Kind == JinjaKind.Dict,
            // Python iter() and len() accept these; jinja2's Undefined is iterable and sized too.
            "iterable" or "sequence" => v.Kind is JinjaKind.String or JinjaKind.List or JinjaKind.Dict or JinjaKind.Undefined,
            "callable" => v.Kind == JinjaKind.Callable,
            "odd" => v.IsNumber && v.Int % 2 != 0,
            "even" => v.IsNumber && v.Int % 2 == 0,
            "divisibleby" => Arg().Int != 0 && v.Int % Arg().Int == 0,
            "equalto" or "eq" or "==" => JinjaOps.Equal(v, Arg()),
            "ne" or "!=" => !JinjaOps.Equal(v, Arg()),
            "lt" or "lessthan" or "<" => JinjaOps.Compare("<", v, Arg(), pos),
            "le" or "<=" => JinjaOps.Compare("<=", v, Arg(), pos),
            "gt" or "greaterthan" or ">" => JinjaOps.Compare(">", v, Arg(), pos),
            "ge" or ">=" => JinjaOps.Compare(">=", v, Arg(), pos),
            "in" => JinjaOps.Contains(Arg(), v, pos),
            "sameas" => ReferenceEquals(v, Arg()) || (v.Kind is JinjaKind.None or JinjaKind.Bool && JinjaOps.Equal(v, Arg()) && v.Kind == Arg().Kind),
            "lower" => v.Kind == JinjaKind.String && string.Equals(v.Str, v.Str.ToLowerInvariant(), StringComparison.Ordinal),
            "upper" => v.Kind == JinjaKind.String && string.Equals(v.Str, v.Str.ToUpperInvariant(), StringComparison.Ordinal),
            _ => throw new ChatTemplateException($"unsupported test '{name}'", pos),
        };
    }
}
