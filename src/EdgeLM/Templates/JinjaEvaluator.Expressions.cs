// Expression evaluation with Python 3 operator semantics as jinja2 exposes them: 'and'/'or'
// return an operand, '+' adds numbers or joins strings and lists, '/' is true division, '//' and
// '%' floor toward negative infinity, comparisons of int/float/bool are numeric, '==' is deep.
using System.Text;

namespace EdgeLM.Templates;

sealed partial class JinjaEvaluator
{
    JinjaValue Eval(Expr e, Scope scope)
    {
        switch (e)
        {
            case ConstExpr c: return c.Value;
            case NameExpr n: return scope.Lookup(n.Name);
            case ListExpr l:
                var items = new List<JinjaValue>(l.Items.Count);
                foreach (var item in l.Items) items.Add(Eval(item, scope));
                return JinjaValue.Of(items);
            case DictExpr d:
                var dict = new JinjaDict();
                foreach (var (k, v) in d.Items) dict.Set(KeyString(Eval(k, scope), k.Pos), Eval(v, scope));
                return JinjaValue.Of(dict);
            case AttrExpr a: return GetAttr(Eval(a.Target, scope), a.Name, a.Pos);
            case ItemExpr i: return GetItem(Eval(i.Target, scope), Eval(i.Index, scope), i.Pos);
            case SliceExpr s: return EvalSlice(s, scope);
            case CallExpr c: return EvalCall(c, scope);
            case FilterExpr f: return ApplyFilter(f, scope);
            case TestExpr t: return JinjaValue.Of(ApplyTest(t, scope) != t.Negated);
            case UnaryExpr u: return EvalUnary(u, scope);
            case BinaryExpr b: return EvalBinary(b, scope);
            case CondExpr c:
                return Eval(c.Test, scope).IsTruthy ? Eval(c.Then, scope)
                    : c.Else is null ? JinjaValue.Missing("conditional expression") : Eval(c.Else, scope);
            default: throw new ChatTemplateException("unsupported expression", e.Pos);
        }
    }

    static string KeyString(JinjaValue key, SourcePos pos) => key.Kind switch
    {
        JinjaKind.String => key.Str,
        JinjaKind.Int or JinjaKind.Bool or JinjaKind.Float or JinjaKind.None => key.Repr(),
        _ => throw new ChatTemplateException($"unhashable dictionary key of type '{TypeName(key)}'", pos),
    };

    /// <summary>jinja2's getattr: a method of the value's type first, then a key of a mapping.
    /// Only Undefined raises; a missing attribute is Undefined.</summary>
    static JinjaValue GetAttr(JinjaValue target, string name, SourcePos pos)
    {
        if (target.IsUndefined)
            throw new ChatTemplateException($"'{target.UndefinedName ?? "value"}' is undefined (reading attribute '{name}')", pos);
        var method = JinjaMethods.Bind(target, name, pos);
        if (method is not null) return method;
        if (target.IsMapping && target.Dict.TryGet(name, out var v)) return v;
        return JinjaValue.Missing(name);
    }

    /// <summary>jinja2's getitem: a key or index first, then an attribute. Out of range is Undefined.</summary>
    static JinjaValue GetItem(JinjaValue target, JinjaValue index, SourcePos pos)
    {
        if (target.IsUndefined)
            throw new ChatTemplateException($"'{target.UndefinedName ?? "value"}' is undefined (reading item {index.Repr()})", pos);
        switch (target.Kind)
        {
            case JinjaKind.Dict or JinjaKind.Namespace when index.Kind == JinjaKind.String:
                return target.Dict.TryGet(index.Str, out var v) ? v : JinjaValue.Missing(index.Str);
            case JinjaKind.List or JinjaKind.String when index.Kind is JinjaKind.Int or JinjaKind.Bool:
                int n = target.Kind == JinjaKind.List ? target.List.Count : target.Str.Length;
                long i = index.Int < 0 ? index.Int + n : index.Int;
                if (i < 0 || i >= n) return JinjaValue.Missing($"[{index.Int}]");
                return target.Kind == JinjaKind.List ? target.List[(int)i] : JinjaValue.Of(target.Str[(int)i].ToString());
        }
        return index.Kind == JinjaKind.String ? GetAttr(target, index.Str, pos) : JinjaValue.Missing(index.Repr());
    }

    JinjaValue EvalSlice(SliceExpr s, Scope scope)
    {
        var target = Eval(s.Target, scope);
        long? Bound(Expr? b)
        {
            if (b is null) return null;
            var v = Eval(b, scope);
            if (v.IsNone) return null;
            if (v.Kind is not (JinjaKind.Int or JinjaKind.Bool)) throw new ChatTemplateException("slice indices must be integers", b.Pos);
            return v.Int;
        }
        long? start = Bound(s.Start), stop = Bound(s.Stop), step = Bound(s.Step);
        if (step == 0) throw new ChatTemplateException("slice step cannot be zero", s.Pos);
        if (target.Kind == JinjaKind.List) return JinjaValue.Of(PySlice(target.List, start, stop, step ?? 1));
        if (target.Kind == JinjaKind.String)
        {
            var chars = new List<char>(target.Str);
            var sb = new StringBuilder();
            foreach (char c in PySlice(chars, start, stop, step ?? 1)) sb.Append(c);
            return JinjaValue.Of(sb.ToString());
        }
        throw new ChatTemplateException($"'{TypeName(target)}' object is not subscriptable", s.Pos);
    }

    /// <summary>Python's slice semantics (negative bounds count from the end, clamped).</summary>
    internal static List<T> PySlice<T>(IReadOnlyList<T> seq, long? start, long? stop, long step)
    {
        long n = seq.Count;
        long Norm(long v, long lo, long hi) => Math.Clamp(v < 0 ? v + n : v, lo, hi);
        var result = new List<T>();
        if (step > 0)
        {
            long a = start is null ? 0 : Norm(start.Value, 0, n), b = stop is null ? n : Norm(stop.Value, 0, n);
            for (long i = a; i < b; i += step) result.Add(seq[(int)i]);
        }
        else
        {
            long a = start is null ? n - 1 : Norm(start.Value, -1, n - 1), b = stop is null ? -1 : Norm(stop.Value, -1, n - 1);
            for (long i = a; i > b; i += step) result.Add(seq[(int)i]);
        }
        return result;
    }

    JinjaValue EvalCall(CallExpr c, Scope scope)
    {
        var fn = Eval(c.Target, scope);
        if (fn.Kind != JinjaKind.Callable)
        {
            string what = c.Target is NameExpr n ? n.Name : c.Target is AttrExpr a ? a.Name : "value";
            throw new ChatTemplateException(fn.IsUndefined
                ? $"'{what}' is undefined (not a supported function or method)"
                : $"'{what}' is not callable", c.Pos);
        }
        var args = new List<JinjaValue>(c.Args.Count);
        foreach (var a in c.Args) args.Add(Eval(a, scope));
        var kwargs = new List<KeyValuePair<string, JinjaValue>>(c.Kwargs.Count);
        foreach (var (k, v) in c.Kwargs) kwargs.Add(new(k, Eval(v, scope)));
        try
        {
            return fn.Callable!(args, kwargs);
        }
        catch (ChatTemplateException ex) when (ex.Position is null)
        {
            throw new ChatTemplateException(ex.Detail, c.Pos, ex.IsRaised);
        }
    }

    JinjaValue EvalUnary(UnaryExpr u, Scope scope)
    {
        var v = Eval(u.Operand, scope);
        if (u.Op == "not") return JinjaValue.Of(!v.IsTruthy);
        if (!v.IsNumber) throw new ChatTemplateException($"bad operand type for unary {u.Op}: '{TypeName(v)}'", u.Pos);
        if (u.Op == "+") return v.Kind == JinjaKind.Bool ? JinjaValue.Of(v.Int) : v;
        return v.Kind == JinjaKind.Float ? JinjaValue.Of(-v.Float) : JinjaValue.Of(-v.Int);
    }

    JinjaValue EvalBinary(BinaryExpr b, Scope scope)
    {
        var left = Eval(b.Left, scope);
        switch (b.Op)
        {
            case "and": return left.IsTruthy ? Eval(b.Right, scope) : left;
            case "or": return left.IsTruthy ? left : Eval(b.Right, scope);
        }
        var right = Eval(b.Right, scope);
        return b.Op switch
        {
            "==" => JinjaValue.Of(JinjaOps.Equal(left, right)),
            "!=" => JinjaValue.Of(!JinjaOps.Equal(left, right)),
            "<" or "<=" or ">" or ">=" => JinjaValue.Of(JinjaOps.Compare(b.Op, left, right, b.Pos)),
            "in" => JinjaValue.Of(JinjaOps.Contains(right, left, b.Pos)),
            "not in" => JinjaValue.Of(!JinjaOps.Contains(right, left, b.Pos)),
            "~" => JinjaValue.Of(left.ToString() + right.ToString()),
            _ => JinjaOps.Arithmetic(b.Op, left, right, b.Pos),
        };
    }
}
