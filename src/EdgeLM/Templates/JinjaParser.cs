// Recursive-descent parser from tokens to the statement tree. Statement tags: if/elif/else, for
// (with tuple targets, inline 'if' filter and else), set (expression, attribute and block forms),
// macro, break/continue, and HF's generation block (parsed as a plain body). Expressions follow
// jinja2's precedence (parser.py): conditional < or < and < not < comparison/in < ~ < + - <
// * / // % < ** < unary < primary with postfix access, filters and tests. A tag the chat-template
// subset does not cover fails here, naming the tag and its position.
using System.Globalization;

namespace EdgeLM.Templates;

sealed partial class JinjaParser
{
    readonly List<Token> _t;
    int _i;

    JinjaParser(List<Token> tokens) => _t = tokens;

    public static IReadOnlyList<Stmt> Parse(string source)
    {
        var p = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = p.ParseBody(out string? stop);
        if (stop is not null) throw new ChatTemplateException($"unexpected '{{% {stop} %}}' with no open block", p.Prev.Pos);
        return body;
    }

    Token Cur => _t[_i];
    Token Prev => _t[Math.Max(0, _i - 1)];
    Token Next() => _t[_i++];

    bool IsOp(string op) => Cur.Kind == TokKind.Op && Cur.Value == op;
    bool IsName(string name) => Cur.Kind == TokKind.Name && Cur.Value == name;

    bool AcceptOp(string op)
    {
        if (!IsOp(op)) return false;
        _i++;
        return true;
    }

    bool AcceptName(string name)
    {
        if (!IsName(name)) return false;
        _i++;
        return true;
    }

    void ExpectOp(string op)
    {
        if (!AcceptOp(op)) throw Error($"expected '{op}'");
    }

    string ExpectName()
    {
        if (Cur.Kind != TokKind.Name) throw Error("expected a name");
        return Next().Value;
    }

    void ExpectEnd()
    {
        if (Cur.Kind != TokKind.End) throw Error("expected end of tag");
        _i++;
    }

    ChatTemplateException Error(string what)
    {
        string found = Cur.Kind switch
        {
            TokKind.End => "end of tag",
            TokKind.Eof => "end of template",
            TokKind.String => $"string '{Cur.Value}'",
            _ => $"'{Cur.Value}'",
        };
        return new ChatTemplateException($"{what}, found {found}", Cur.Pos);
    }

    /// <summary>Parses statements until a block tag this level does not own (elif, endfor...),
    /// which is returned in <paramref name="stop"/> with the tokens positioned after its name.</summary>
    List<Stmt> ParseBody(out string? stop)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var tok = Next();
            switch (tok.Kind)
            {
                case TokKind.Eof:
                    stop = null;
                    _i--;
                    return body;
                case TokKind.Text:
                    body.Add(new TextStmt(tok.Pos, tok.Value));
                    break;
                case TokKind.VarBegin:
                    body.Add(new OutputStmt(tok.Pos, ParseExpr()));
                    ExpectEnd();
                    break;
                case TokKind.BlockBegin:
                    string name = ExpectName();
                    var stmt = ParseStatement(name, tok.Pos);
                    if (stmt is null)
                    {
                        stop = name;
                        return body;
                    }
                    body.Add(stmt);
                    break;
                default:
                    throw new ChatTemplateException("unexpected token", tok.Pos);
            }
        }
    }

    Stmt? ParseStatement(string name, SourcePos pos)
    {
        switch (name)
        {
            case "if": return ParseIf(pos);
            case "for": return ParseFor(pos);
            case "set": return ParseSet(pos);
            case "macro": return ParseMacro(pos);
            case "break":
            case "continue":
                ExpectEnd();
                return new LoopControlStmt(pos, name == "break");
            case "generation":
                ExpectEnd();
                return new ScopeStmt(pos, ParseUntil("endgeneration", pos));
            case "elif" or "else" or "endif" or "endfor" or "endset" or "endmacro" or "endgeneration":
                return null;
            default:
                throw new ChatTemplateException($"unsupported template tag '{{% {name} %}}'", pos);
        }
    }

    List<Stmt> ParseUntil(string end, SourcePos open)
    {
        var body = ParseBody(out string? stop);
        if (stop != end) throw Unclosed(end, stop, open);
        ExpectEnd();
        return body;
    }

    static ChatTemplateException Unclosed(string expected, string? found, SourcePos open) =>
        new(found is null
            ? $"missing '{{% {expected} %}}' for the block opened at {open}"
            : $"expected '{{% {expected} %}}' for the block opened at {open}, found '{{% {found} %}}'", open);

    IfStmt ParseIf(SourcePos pos)
    {
        var test = ParseExpr();
        ExpectEnd();
        var body = ParseBody(out string? stop);
        IReadOnlyList<Stmt> orelse = [];
        var stopPos = Prev.Pos;
        if (stop == "elif")
        {
            orelse = [ParseIf(stopPos)];
            return new IfStmt(pos, test, body, orelse);
        }
        if (stop == "else")
        {
            ExpectEnd();
            orelse = ParseBody(out stop);
        }
        if (stop != "endif") throw Unclosed("endif", stop, pos);
        ExpectEnd();
        return new IfStmt(pos, test, body, orelse);
    }

    ForStmt ParseFor(SourcePos pos)
    {
        var targets = new List<string> { ExpectName() };
        while (AcceptOp(",")) targets.Add(ExpectName());
        if (!AcceptName("in")) throw Error("expected 'in' in for loop");
        var iter = ParseOr(allowCondExpr: false);
        Expr? filter = AcceptName("if") ? ParseOr(allowCondExpr: false) : null;
        if (IsName("recursive")) throw new ChatTemplateException("unsupported recursive for loop", Cur.Pos);
        ExpectEnd();
        var body = ParseBody(out string? stop);
        IReadOnlyList<Stmt> orelse = [];
        if (stop == "else")
        {
            ExpectEnd();
            orelse = ParseBody(out stop);
        }
        if (stop != "endfor") throw Unclosed("endfor", stop, pos);
        ExpectEnd();
        return new ForStmt(pos, targets, iter, filter, body, orelse);
    }

    SetStmt ParseSet(SourcePos pos)
    {
        var targets = new List<string> { ExpectName() };
        string? attr = null;
        if (AcceptOp(".")) attr = ExpectName();
        else while (AcceptOp(",")) targets.Add(ExpectName());
        if (AcceptOp("="))
        {
            var value = ParseTuple();
            ExpectEnd();
            return new SetStmt(pos, targets, attr, value, []);
        }
        if (attr is not null || targets.Count != 1) throw Error("expected '='");
        if (Cur.Kind != TokKind.End) throw new ChatTemplateException("unsupported filtered block set", Cur.Pos);
        ExpectEnd();
        return new SetStmt(pos, targets, null, null, ParseUntil("endset", pos));
    }

    MacroStmt ParseMacro(SourcePos pos)
    {
        string name = ExpectName();
        var names = new List<string>();
        var defaults = new List<Expr?>();
        ExpectOp("(");
        while (!AcceptOp(")"))
        {
            if (names.Count > 0) ExpectOp(",");
            if (AcceptOp(")")) break;
            names.Add(ExpectName());
            defaults.Add(AcceptOp("=") ? ParseExpr() : null);
        }
        ExpectEnd();
        return new MacroStmt(pos, name, names, defaults, ParseUntil("endmacro", pos));
    }

    /// <summary>An expression, or a bare tuple (<c>a, b</c>) evaluated as a list.</summary>
    Expr ParseTuple()
    {
        var first = ParseExpr();
        if (!IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (AcceptOp(","))
        {
            if (Cur.Kind == TokKind.End) break;
            items.Add(ParseExpr());
        }
        return new ListExpr(first.Pos, items);
    }

    internal static JinjaValue ParseNumber(Token tok) => tok.Kind == TokKind.Int
        ? long.TryParse(tok.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long l)
            ? JinjaValue.Of(l)
            : JinjaValue.Of(double.Parse(tok.Value, CultureInfo.InvariantCulture))
        : JinjaValue.Of(double.Parse(tok.Value, CultureInfo.InvariantCulture));
}
