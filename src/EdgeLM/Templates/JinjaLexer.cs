// Splits a template into text and tag tokens, applying Jinja's whitespace control as Hugging Face
// configures it (trim_blocks=True, lstrip_blocks=True): '-' strips all whitespace on its side,
// '+' disables the trim/lstrip rule, a newline right after a block or comment tag is dropped, and
// spaces before a block or comment tag that starts a line are dropped. Inside tags it produces
// expression tokens (names, numbers, strings with Python escapes, operators). Follows jinja2 3.1's
// lexer.py rules; line statements, custom delimiters and {% raw %} are not supported.
using System.Globalization;
using System.Text;

namespace EdgeLM.Templates;

enum TokKind { Text, VarBegin, BlockBegin, End, Name, String, Int, Float, Op, Eof }

readonly record struct Token(TokKind Kind, string Value, SourcePos Pos);

static class JinjaLexer
{
    static readonly string[] Ops =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"];

    public static List<Token> Tokenize(string src)
    {
        var tokens = new List<Token>();
        var lines = new LineMap(src);
        int pos = 0;
        while (pos <= src.Length)
        {
            int open = FindTagStart(src, pos);
            string text = open < 0 ? src[pos..] : src[pos..open];
            if (open < 0)
            {
                if (text.Length > 0) tokens.Add(new(TokKind.Text, text, lines.At(pos)));
                break;
            }
            char kind = src[open + 1];
            char mod = open + 2 < src.Length ? src[open + 2] : '\0';
            if (mod == '-') text = text.TrimEnd();
            else if (mod != '+' && kind != '{') text = LstripBlock(text, pos == 0 || src[pos - 1] == '\n');
            if (text.Length > 0) tokens.Add(new(TokKind.Text, text, lines.At(pos)));
            int inner = open + 2 + (mod is '-' or '+' ? 1 : 0);
            int end = kind == '#'
                ? CommentEnd(src, inner, lines.At(open))
                : LexTag(src, inner, kind == '{', tokens, lines, lines.At(open));
            pos = AfterTag(src, end, kind);
        }
        tokens.Add(new(TokKind.Eof, "", lines.At(src.Length)));
        return tokens;
    }

    static int FindTagStart(string src, int from)
    {
        for (int i = src.IndexOf('{', from); i >= 0 && i + 1 < src.Length; i = src.IndexOf('{', i + 1))
            if (src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>lstrip_blocks: drop spaces between the line start and a block or comment tag.</summary>
    static string LstripBlock(string text, bool lineStarting)
    {
        int lpos = text.LastIndexOf('\n') + 1;
        if (lpos == 0 && !lineStarting) return text;
        if (lpos == text.Length) return text;
        for (int i = lpos; i < text.Length; i++)
            if (!char.IsWhiteSpace(text[i])) return text;
        return text[..lpos];
    }

    /// <summary>Position after the closing delimiter whose start is at <paramref name="end"/>,
    /// with the '-' (strip all) or trim_blocks (drop one newline) rule applied.</summary>
    static int AfterTag(string src, int end, char kind)
    {
        char first = src[end];
        int after = end + (first is '-' or '+' ? 3 : 2);
        if (first == '-')
        {
            while (after < src.Length && char.IsWhiteSpace(src[after])) after++;
        }
        else if (first != '+' && kind != '{' && after < src.Length && src[after] == '\n')
        {
            after++;
        }
        return after;
    }

    static int CommentEnd(string src, int from, SourcePos start)
    {
        int i = src.IndexOf("#}", from, StringComparison.Ordinal);
        if (i < 0) throw new ChatTemplateException("unclosed comment '{#'", start);
        return i > from && src[i - 1] is '-' or '+' ? i - 1 : i;
    }

    /// <summary>Lexes the inside of a {{ }} or {% %} tag; returns where its closing delimiter starts.</summary>
    static int LexTag(string src, int i, bool isVar, List<Token> tokens, LineMap lines, SourcePos start)
    {
        tokens.Add(new(isVar ? TokKind.VarBegin : TokKind.BlockBegin, "", start));
        string close = isVar ? "}}" : "%}";
        int depth = 0; // open brackets: '}}' inside a dict literal does not close the tag
        while (true)
        {
            while (i < src.Length && char.IsWhiteSpace(src[i])) i++;
            if (i >= src.Length) throw new ChatTemplateException($"unclosed tag, expected '{close}'", start);
            if (depth == 0)
            {
                if (string.CompareOrdinal(src, i, close, 0, 2) == 0 ||
                    (src[i] is '-' or '+' && string.CompareOrdinal(src, i + 1, close, 0, 2) == 0))
                {
                    tokens.Add(new(TokKind.End, "", lines.At(i)));
                    return i;
                }
            }
            var p = lines.At(i);
            char c = src[i];
            if (char.IsLetter(c) || c == '_')
            {
                int s = i;
                while (i < src.Length && (char.IsLetterOrDigit(src[i]) || src[i] == '_')) i++;
                tokens.Add(new(TokKind.Name, src[s..i], p));
            }
            else if (char.IsAsciiDigit(c))
            {
                i = LexNumber(src, i, p, tokens);
            }
            else if (c is '\'' or '"')
            {
                i = LexString(src, i, p, tokens);
            }
            else
            {
                string? op = null;
                foreach (string o in Ops)
                    if (string.CompareOrdinal(src, i, o, 0, o.Length) == 0) { op = o; break; }
                if (op is null) throw new ChatTemplateException($"unexpected character '{c}'", p);
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
                tokens.Add(new(TokKind.Op, op, p));
                i += op.Length;
            }
        }
    }

    static int LexNumber(string src, int i, SourcePos p, List<Token> tokens)
    {
        int s = i;
        bool isFloat = false;
        while (i < src.Length && (char.IsAsciiDigit(src[i]) || src[i] == '_')) i++;
        if (i + 1 < src.Length && src[i] == '.' && char.IsAsciiDigit(src[i + 1]))
        {
            isFloat = true;
            i++;
            while (i < src.Length && char.IsAsciiDigit(src[i])) i++;
        }
        if (i < src.Length && src[i] is 'e' or 'E')
        {
            int j = i + 1;
            if (j < src.Length && src[j] is '+' or '-') j++;
            if (j < src.Length && char.IsAsciiDigit(src[j]))
            {
                isFloat = true;
                i = j;
                while (i < src.Length && char.IsAsciiDigit(src[i])) i++;
            }
        }
        tokens.Add(new(isFloat ? TokKind.Float : TokKind.Int, src[s..i].Replace("_", "", StringComparison.Ordinal), p));
        return i;
    }

    static int LexString(string src, int i, SourcePos p, List<Token> tokens)
    {
        char q = src[i++];
        var sb = new StringBuilder();
        while (true)
        {
            if (i >= src.Length) throw new ChatTemplateException("unterminated string literal", p);
            char c = src[i++];
            if (c == q) break;
            if (c != '\\' || i >= src.Length) { sb.Append(c); continue; }
            char e = src[i++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '0': sb.Append('\0'); break;
                case '\\': case '\'': case '"': sb.Append(e); break;
                case '\n': break; // line continuation
                case 'x': sb.Append(Hex(src, ref i, 2, p)); break;
                case 'u': sb.Append(Hex(src, ref i, 4, p)); break;
                case 'U': sb.Append(char.ConvertFromUtf32(Hex(src, ref i, 8, p))); break;
                default: sb.Append('\\').Append(e); break; // Python keeps unknown escapes
            }
        }
        tokens.Add(new(TokKind.String, sb.ToString(), p));
        return i;
    }

    static char Hex(string src, ref int i, int n, SourcePos p) => (char)HexValue(src, ref i, n, p);

    static int HexValue(string src, ref int i, int n, SourcePos p)
    {
        if (i + n > src.Length || !int.TryParse(src.AsSpan(i, n), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int v))
            throw new ChatTemplateException("bad escape in string literal", p);
        i += n;
        return v;
    }

    /// <summary>Maps a character offset to a line and column.</summary>
    sealed class LineMap
    {
        readonly List<int> _starts = [0];

        public LineMap(string src)
        {
            for (int i = 0; i < src.Length; i++)
                if (src[i] == '\n') _starts.Add(i + 1);
        }

        public SourcePos At(int offset)
        {
            int idx = _starts.BinarySearch(offset);
            if (idx < 0) idx = ~idx - 1;
            return new(idx + 1, offset - _starts[idx] + 1);
        }
    }
}
