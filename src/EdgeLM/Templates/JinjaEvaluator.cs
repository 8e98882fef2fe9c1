// Walks the statement tree and writes the output. Scoping follows jinja2: a for-loop iteration and
// a macro call get their own scope (so 'set' inside a loop does not leak out; namespaces exist to
// carry state across iterations), 'if' does not. Undefined behaves as jinja2's default Undefined:
// falsy, prints as empty, iterates as empty, and raises only when an operation needs its value
// (attribute access, arithmetic). Errors carry the source position of the node that failed.
using System.Text;

namespace EdgeLM.Templates;

sealed partial class JinjaEvaluator
{
    enum Flow { Normal, Break, Continue }

    /// <summary>Deepest nesting of macro calls before rendering gives up (a macro calling itself).</summary>
    const int MaxCallDepth = 200;

    sealed class Scope(Scope? parent)
    {
        readonly Dictionary<string, JinjaValue> _vars = new(StringComparer.Ordinal);

        public Scope? Parent { get; } = parent;

        public JinjaValue Lookup(string name)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s._vars.TryGetValue(name, out var v)) return v;
            return JinjaValue.Missing(name);
        }

        public void Set(string name, JinjaValue value) => _vars[name] = value;
    }

    readonly Scope _globals;
    int _depth;

    public JinjaEvaluator(IReadOnlyDictionary<string, JinjaValue> globals)
    {
        _globals = new Scope(null);
        foreach (var (k, v) in globals) _globals.Set(k, v);
    }

    public string Render(IReadOnlyList<Stmt> body)
    {
        var sb = new StringBuilder();
        Exec(body, new Scope(_globals), sb);
        return sb.ToString();
    }

    Flow Exec(IReadOnlyList<Stmt> body, Scope scope, StringBuilder sb)
    {
        foreach (var stmt in body)
        {
            var flow = ExecOne(stmt, scope, sb);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    Flow ExecOne(Stmt stmt, Scope scope, StringBuilder sb)
    {
        switch (stmt)
        {
            case TextStmt t: sb.Append(t.Text); return Flow.Normal;
            case OutputStmt o: sb.Append(Eval(o.Value, scope).ToString()); return Flow.Normal;
            case IfStmt i: return Exec(Eval(i.Test, scope).IsTruthy ? i.Body : i.Else, scope, sb);
            case ForStmt f: ExecFor(f, scope, sb); return Flow.Normal;
            case SetStmt s: ExecSet(s, scope); return Flow.Normal;
            case MacroStmt m: scope.Set(m.Name, MakeMacro(m, scope)); return Flow.Normal;
            case LoopControlStmt c: return c.IsBreak ? Flow.Break : Flow.Continue;
            case ScopeStmt b: return Exec(b.Body, scope, sb);
            default: throw new ChatTemplateException("unsupported statement", stmt.Pos);
        }
    }

    void ExecSet(SetStmt s, Scope scope)
    {
        JinjaValue value;
        if (s.Value is null)
        {
            var sb = new StringBuilder();
            Exec(s.Body, new Scope(scope), sb);
            value = JinjaValue.Of(sb.ToString());
        }
        else value = Eval(s.Value, scope);

        if (s.Attribute is not null)
        {
            var target = scope.Lookup(s.Targets[0]);
            if (target.Kind != JinjaKind.Namespace)
                throw new ChatTemplateException($"cannot assign attribute '{s.Attribute}' on '{s.Targets[0]}': not a namespace", s.Pos);
            target.Dict.Set(s.Attribute, value);
            return;
        }
        Assign(s.Targets, value, scope, s.Pos);
    }

    void Assign(IReadOnlyList<string> targets, JinjaValue value, Scope scope, SourcePos pos)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }
        var items = Iterate(value, pos);
        if (items.Count != targets.Count)
            throw new ChatTemplateException($"cannot unpack {items.Count} values into {targets.Count} names", pos);
        for (int i = 0; i < targets.Count; i++) scope.Set(targets[i], items[i]);
    }

    void ExecFor(ForStmt f, Scope scope, StringBuilder sb)
    {
        var all = Iterate(Eval(f.Iter, scope), f.Iter.Pos);
        List<JinjaValue> items;
        if (f.Filter is null) items = [.. all];
        else
        {
            items = [];
            foreach (var item in all)
            {
                var probe = new Scope(scope);
                Assign(f.Targets, item, probe, f.Pos);
                if (Eval(f.Filter, probe).IsTruthy) items.Add(item);
            }
        }
        if (items.Count == 0)
        {
            Exec(f.Else, scope, sb);
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            var iter = new Scope(scope);
            Assign(f.Targets, items[i], iter, f.Pos);
            iter.Set("loop", LoopInfo(items, i));
            if (Exec(f.Body, iter, sb) == Flow.Break) break;
        }
    }

    static JinjaValue LoopInfo(List<JinjaValue> items, int i)
    {
        int n = items.Count;
        var d = new JinjaDict();
        d.Set("index", JinjaValue.Of(i + 1L));
        d.Set("index0", JinjaValue.Of((long)i));
        d.Set("revindex", JinjaValue.Of((long)(n - i)));
        d.Set("revindex0", JinjaValue.Of((long)(n - i - 1)));
        d.Set("first", JinjaValue.Of(i == 0));
        d.Set("last", JinjaValue.Of(i == n - 1));
        d.Set("length", JinjaValue.Of((long)n));
        d.Set("depth", JinjaValue.Of(1L));
        d.Set("depth0", JinjaValue.Of(0L));
        d.Set("previtem", i > 0 ? items[i - 1] : JinjaValue.Missing("loop.previtem"));
        d.Set("nextitem", i < n - 1 ? items[i + 1] : JinjaValue.Missing("loop.nextitem"));
        d.Set("cycle", JinjaValue.Function((args, _) => args.Count == 0 ? JinjaValue.None : args[i % args.Count]));
        return JinjaValue.Of(d);
    }

    JinjaValue MakeMacro(MacroStmt m, Scope defScope) => JinjaValue.Function((args, kwargs) =>
    {
        if (args.Count > m.Params.Count)
            throw new ChatTemplateException($"macro '{m.Name}' takes {m.Params.Count} arguments, got {args.Count}", m.Pos);
        if (++_depth > MaxCallDepth)
            throw new ChatTemplateException($"macro '{m.Name}' nested deeper than {MaxCallDepth} calls", m.Pos);
        try
        {
            var scope = new Scope(defScope);
            for (int p = 0; p < m.Params.Count; p++)
            {
                JinjaValue v = p < args.Count ? args[p] : JinjaValue.Missing(m.Params[p]);
                foreach (var (k, kv) in kwargs)
                    if (k == m.Params[p]) v = kv;
                if (v.IsUndefined && m.Defaults[p] is { } def) v = Eval(def, scope);
                scope.Set(m.Params[p], v);
            }
            var sb = new StringBuilder();
            Exec(m.Body, scope, sb);
            return JinjaValue.Of(sb.ToString());
        }
        finally
        {
            _depth--;
        }
    });

    /// <summary>The items a for-loop or a filter walks: list items, dict keys, string characters.
    /// Undefined iterates as empty (jinja2's default Undefined).</summary>
    internal static IReadOnlyList<JinjaValue> Iterate(JinjaValue v, SourcePos pos)
    {
        switch (v.Kind)
        {
            case JinjaKind.List: return v.List;
            case JinjaKind.Undefined: return [];
            case JinjaKind.Dict:
                var keys = new List<JinjaValue>(v.Dict.Count);
                foreach (string k in v.Dict.Keys) keys.Add(JinjaValue.Of(k));
                return keys;
            case JinjaKind.String:
                var chars = new List<JinjaValue>(v.Str.Length);
                foreach (var rune in v.Str.EnumerateRunes()) chars.Add(JinjaValue.Of(rune.ToString()));
                return chars;
            default:
                throw new ChatTemplateException($"'{TypeName(v)}' object is not iterable", pos);
        }
    }

    internal static string TypeName(JinjaValue v) => v.Kind switch
    {
        JinjaKind.Undefined => "Undefined",
        JinjaKind.None => "NoneType",
        JinjaKind.Bool => "bool",
        JinjaKind.Int => "int",
        JinjaKind.Float => "float",
        JinjaKind.String => "str",
        JinjaKind.List => "list",
        JinjaKind.Dict => "dict",
        JinjaKind.Namespace => "Namespace",
        _ => "function",
    };
}
