// Expression half of the parser, in jinja2's precedence order (see JinjaParser.cs).
namespace EdgeLM.Templates;

sealed partial class JinjaParser
{
    static readonly HashSet<string> CompareOps = ["==", "!=", "<", "<=", ">", ">="];

    Expr ParseExpr() => ParseOr(allowCondExpr: true);

    Expr ParseOr(bool allowCondExpr)
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            var pos = Next().Pos;
            left = new BinaryExpr(pos, "or", left, ParseAnd());
        }
        if (allowCondExpr && IsName("if"))
        {
            var pos = Next().Pos;
            var test = ParseOr(allowCondExpr: false);
            Expr? orelse = AcceptName("else") ? ParseOr(allowCondExpr: true) : null;
            return new CondExpr(pos, test, left, orelse);
        }
        return left;
    }

    Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            var pos = Next().Pos;
            left = new BinaryExpr(pos, "and", left, ParseNot());
        }
        return left;
    }

    Expr ParseNot()
    {
        if (IsName("not"))
        {
            var pos = Next().Pos;
            return new UnaryExpr(pos, "not", ParseNot());
        }
        return ParseCompare();
    }

    Expr ParseCompare()
    {
        var left = ParseMath1();
        while (true)
        {
            var pos = Cur.Pos;
            if (Cur.Kind == TokKind.Op && CompareOps.Contains(Cur.Value))
                left = new BinaryExpr(pos, Next().Value, left, ParseMath1());
            else if (AcceptName("in"))
                left = new BinaryExpr(pos, "in", left, ParseMath1());
            else if (IsName("not") && _t[_i + 1].Kind == TokKind.Name && _t[_i + 1].Value == "in")
            {
                _i += 2;
                left = new BinaryExpr(pos, "not in", left, ParseMath1());
            }
            else return left;
        }
    }

    Expr ParseMath1()
    {
        var left = ParseConcat();
        while (IsOp("+") || IsOp("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Pos, op.Value, left, ParseConcat());
        }
        return left;
    }

    Expr ParseConcat()
    {
        var left = ParseMath2();
        while (IsOp("~"))
        {
            var pos = Next().Pos;
            left = new BinaryExpr(pos, "~", left, ParseMath2());
        }
        return left;
    }

    Expr ParseMath2()
    {
        var left = ParsePow();
        while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))
        {
            var op = Next();
            left = new BinaryExpr(op.Pos, op.Value, left, ParsePow());
        }
        return left;
    }

    Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (IsOp("**"))
        {
            var pos = Next().Pos;
            left = new BinaryExpr(pos, "**", left, ParseUnary(withFilter: true));
        }
        return left;
    }

    Expr ParseUnary(bool withFilter)
    {
        Expr node;
        if (IsOp("-") || IsOp("+"))
        {
            var op = Next();
            node = new UnaryExpr(op.Pos, op.Value, ParseUnary(withFilter: false));
        }
        else
        {
            node = ParsePostfix(ParsePrimary());
        }
        return withFilter ? ParseFilterTail(node) : node;
    }

    Expr ParsePrimary()
    {
        var tok = Next();
        switch (tok.Kind)
        {
            case TokKind.Name:
                return tok.Value switch
                {
                    "true" or "True" => new ConstExpr(tok.Pos, JinjaValue.True),
                    "false" or "False" => new ConstExpr(tok.Pos, JinjaValue.False),
                    "none" or "None" => new ConstExpr(tok.Pos, JinjaValue.None),
                    _ => new NameExpr(tok.Pos, tok.Value),
                };
            case TokKind.String:
                string s = tok.Value;
                while (Cur.Kind == TokKind.String) s += Next().Value; // adjacent literals join
                return new ConstExpr(tok.Pos, JinjaValue.Of(s));
            case TokKind.Int or TokKind.Float:
                return new ConstExpr(tok.Pos, ParseNumber(tok));
            case TokKind.Op when tok.Value == "(":
                if (AcceptOp(")")) return new ListExpr(tok.Pos, []);
                var inner = ParseTuple();
                ExpectOp(")");
                return inner;
            case TokKind.Op when tok.Value == "[":
                return new ListExpr(tok.Pos, ParseList("]"));
            case TokKind.Op when tok.Value == "{":
                return ParseDict(tok.Pos);
            default:
                _i--;
                throw Error("expected an expression");
        }
    }

    List<Expr> ParseList(string close)
    {
        var items = new List<Expr>();
        while (!AcceptOp(close))
        {
            if (items.Count > 0) ExpectOp(",");
            if (AcceptOp(close)) break;
            items.Add(ParseExpr());
        }
        return items;
    }

    DictExpr ParseDict(SourcePos pos)
    {
        var items = new List<(Expr, Expr)>();
        while (!AcceptOp("}"))
        {
            if (items.Count > 0) ExpectOp(",");
            if (AcceptOp("}")) break;
            var key = ParseExpr();
            ExpectOp(":");
            items.Add((key, ParseExpr()));
        }
        return new DictExpr(pos, items);
    }

    Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var pos = Cur.Pos;
            if (AcceptOp("."))
            {
                if (Cur.Kind == TokKind.Int) node = new ItemExpr(pos, node, new ConstExpr(pos, ParseNumber(Next())));
                else node = new AttrExpr(pos, node, ExpectName());
            }
            else if (AcceptOp("[")) node = ParseSubscript(pos, node);
            else if (AcceptOp("(")) node = ParseCall(pos, node);
            else return node;
        }
    }

    Expr ParseSubscript(SourcePos pos, Expr target)
    {
        Expr? start = IsOp(":") ? null : ParseExpr();
        if (start is not null && AcceptOp("]")) return new ItemExpr(pos, target, start);
        ExpectOp(":");
        Expr? stop = IsOp(":") || IsOp("]") ? null : ParseExpr();
        Expr? step = null;
        if (AcceptOp(":") && !IsOp("]")) step = ParseExpr();
        ExpectOp("]");
        return new SliceExpr(pos, target, start, stop, step);
    }

    CallExpr ParseCall(SourcePos pos, Expr target)
    {
        var (args, kwargs) = ParseArgs();
        return new CallExpr(pos, target, args, kwargs);
    }

    /// <summary>Arguments after an opening '(' up to and including the ')'.</summary>
    (List<Expr>, List<(string, Expr)>) ParseArgs()
    {
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!AcceptOp(")"))
        {
            if (args.Count + kwargs.Count > 0) ExpectOp(",");
            if (AcceptOp(")")) break;
            if (Cur.Kind == TokKind.Name && _t[_i + 1].Kind == TokKind.Op && _t[_i + 1].Value == "=")
            {
                string key = Next().Value;
                _i++;
                kwargs.Add((key, ParseExpr()));
            }
            else if (IsOp("*") || IsOp("**")) throw new ChatTemplateException("unsupported *args/**kwargs call", Cur.Pos);
            else args.Add(ParseExpr());
        }
        return (args, kwargs);
    }

    Expr ParseFilterTail(Expr node)
    {
        while (true)
        {
            var pos = Cur.Pos;
            if (AcceptOp("|"))
            {
                string name = ExpectName();
                var (args, kwargs) = AcceptOp("(") ? ParseArgs() : ([], []);
                node = new FilterExpr(pos, node, name, args, kwargs);
            }
            else if (AcceptName("is"))
            {
                bool negated = AcceptName("not");
                string name = ExpectName();
                var args = new List<Expr>();
                if (AcceptOp("(")) args = ParseArgs().Item1;
                else if (StartsTestArgument()) args.Add(ParsePostfix(ParsePrimary()));
                node = new TestExpr(pos, node, name, args, negated);
            }
            else if (AcceptOp("(")) node = ParseCall(pos, node);
            else return node;
        }
    }

    /// <summary>jinja2 lets a test take one argument without parentheses: <c>x is equalto 3</c>.</summary>
    bool StartsTestArgument() => Cur.Kind switch
    {
        TokKind.String or TokKind.Int or TokKind.Float => true,
        TokKind.Name => Cur.Value is not ("else" or "or" or "and" or "if" or "is" or "in" or "not"),
        TokKind.Op => Cur.Value is "[" or "{",
        _ => false,
    };
}
