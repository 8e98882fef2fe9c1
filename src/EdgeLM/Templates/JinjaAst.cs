// Syntax tree of a parsed chat template: statements (text, output, if, for, set, macro...) and
// expressions. Plain records; the evaluator walks them. Each node keeps its line and column so
// that a runtime error can point at the template source. Follows jinja2's node set, reduced to
// what chat templates use (no extends/include/import/call blocks).
namespace EdgeLM.Templates;

/// <summary>A source position (1-based line and column).</summary>
public readonly record struct SourcePos(int Line, int Column)
{
    public override string ToString() => $"line {Line}, column {Column}";
}

abstract record Node(SourcePos Pos);

// ---- statements ----
abstract record Stmt(SourcePos Pos) : Node(Pos);
sealed record TextStmt(SourcePos Pos, string Text) : Stmt(Pos);
sealed record OutputStmt(SourcePos Pos, Expr Value) : Stmt(Pos);
sealed record IfStmt(SourcePos Pos, Expr Test, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else) : Stmt(Pos);
sealed record ForStmt(SourcePos Pos, IReadOnlyList<string> Targets, Expr Iter, Expr? Filter,
    IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else) : Stmt(Pos);
/// <summary><c>set x = e</c>, <c>set a, b = e</c>, <c>set ns.attr = e</c>; Value null means a block set with Body.</summary>
sealed record SetStmt(SourcePos Pos, IReadOnlyList<string> Targets, string? Attribute, Expr? Value,
    IReadOnlyList<Stmt> Body) : Stmt(Pos);
sealed record MacroStmt(SourcePos Pos, string Name, IReadOnlyList<string> Params,
    IReadOnlyList<Expr?> Defaults, IReadOnlyList<Stmt> Body) : Stmt(Pos);
sealed record LoopControlStmt(SourcePos Pos, bool IsBreak) : Stmt(Pos);
sealed record ScopeStmt(SourcePos Pos, IReadOnlyList<Stmt> Body) : Stmt(Pos);

// ---- expressions ----
abstract record Expr(SourcePos Pos) : Node(Pos);
sealed record ConstExpr(SourcePos Pos, JinjaValue Value) : Expr(Pos);
sealed record NameExpr(SourcePos Pos, string Name) : Expr(Pos);
sealed record ListExpr(SourcePos Pos, IReadOnlyList<Expr> Items) : Expr(Pos);
sealed record DictExpr(SourcePos Pos, IReadOnlyList<(Expr Key, Expr Value)> Items) : Expr(Pos);
sealed record AttrExpr(SourcePos Pos, Expr Target, string Name) : Expr(Pos);
sealed record ItemExpr(SourcePos Pos, Expr Target, Expr Index) : Expr(Pos);
sealed record SliceExpr(SourcePos Pos, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Pos);
sealed record CallExpr(SourcePos Pos, Expr Target, IReadOnlyList<Expr> Args,
    IReadOnlyList<(string Name, Expr Value)> Kwargs) : Expr(Pos);
sealed record FilterExpr(SourcePos Pos, Expr Target, string Name, IReadOnlyList<Expr> Args,
    IReadOnlyList<(string Name, Expr Value)> Kwargs) : Expr(Pos);
sealed record TestExpr(SourcePos Pos, Expr Target, string Name, IReadOnlyList<Expr> Args, bool Negated) : Expr(Pos);
sealed record UnaryExpr(SourcePos Pos, string Op, Expr Operand) : Expr(Pos);
sealed record BinaryExpr(SourcePos Pos, string Op, Expr Left, Expr Right) : Expr(Pos);
sealed record CondExpr(SourcePos Pos, Expr Test, Expr Then, Expr? Else) : Expr(Pos);
