// llama.cpp's hand-written splitters for the GPT-2 and Llama 3 / Qwen2 regexes (unicode.cpp,
// unicode_regex_split_custom_gpt2 / _llama3 / _qwen2), step for step, quirks included (for example a
// lone trailing space after a letter run). They work on code points [ini, end) of one piece; a
// position outside the piece reads as "no code point", as in llama.cpp. No allocation.
//   GPT-2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   Qwen2:   the same with \p{N} taken one at a time (maxDigits = 1).
namespace EdgeLM.Tokenizers;

internal static class CustomSplitters
{
    const int OutOfRange = -1;

    ref struct Piece(ReadOnlySpan<int> cps, int start, int end, List<int> output)
    {
        readonly ReadOnlySpan<int> _cps = cps;
        readonly int ini = start;
        int _prevEnd = start;

        public readonly int Cpt(int pos) => pos >= ini && pos < end ? _cps[pos] : OutOfRange;
        public readonly bool InRange(int pos) => pos >= ini && pos < end;
        public readonly bool Letter(int pos) => InRange(pos) && UnicodeFlags.IsLetter(_cps[pos]);
        public readonly bool Number(int pos) => InRange(pos) && UnicodeFlags.IsNumber(_cps[pos]);
        public readonly bool Space(int pos) => InRange(pos) && UnicodeFlags.IsWhitespace(_cps[pos]);

        /// <summary>[^\s\p{L}\p{N}] and inside the piece.</summary>
        public readonly bool Other(int pos) => InRange(pos) && !UnicodeFlags.IsWhitespace(_cps[pos])
            && (UnicodeFlags.Of(_cps[pos]) & (CpFlags.Letter | CpFlags.Number)) == 0;

        public int Add(int e)
        {
            int len = e - _prevEnd;
            if (len > 0) output.Add(len);
            _prevEnd = e;
            return len;
        }
    }

    static int Lower(int c) => c is >= 'A' and <= 'Z' ? c + 32 : c;

    /// <summary>'s 't 'm 'd (2) or 're 've 'll (3) at pos; 0 when none.</summary>
    static int Contraction(ref Piece p, int pos, int end, bool ignoreCase)
    {
        if (p.Cpt(pos) != '\'' || pos + 1 >= end) return 0;
        int a = p.Cpt(pos + 1);
        if (ignoreCase) a = Lower(a);
        if (a is 's' or 't' or 'm' or 'd') return 2;
        if (pos + 2 >= end) return 0;
        int b = p.Cpt(pos + 2);
        if (ignoreCase) b = Lower(b);
        return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') ? 3 : 0;
    }

    public static void Gpt2(ReadOnlySpan<int> cps, int ini, int end, List<int> output)
    {
        var p = new Piece(cps, ini, end, output);
        for (int pos = ini; pos < end;)
        {
            int cpt = p.Cpt(pos);
            int c = Contraction(ref p, pos, end, ignoreCase: false);
            if (c > 0) { pos += p.Add(pos + c); continue; }

            int q = cpt == ' ' ? pos + 1 : pos; // where " ?X+" looks for X
            if (p.Letter(q)) { pos = q; while (p.Letter(pos)) pos++; p.Add(pos); continue; }
            if (p.Number(q)) { pos = q; while (p.Number(pos)) pos++; p.Add(pos); continue; }
            if (p.Other(q)) { pos = q; while (p.Other(pos)) pos++; p.Add(pos); continue; }

            int n = 0;
            while (p.Space(pos + n)) n++;
            if (n > 1 && p.Cpt(pos + n) != OutOfRange) { pos += n - 1; p.Add(pos); continue; } // \s+(?!\S)
            if (n > 0) { pos += n; p.Add(pos); continue; }                                       // \s+
            p.Add(++pos);
        }
    }

    public static void Llama3(ReadOnlySpan<int> cps, int ini, int end, int maxDigits, List<int> output)
    {
        var p = new Piece(cps, ini, end, output);
        for (int pos = ini; pos < end;)
        {
            int cpt = p.Cpt(pos);
            int c = Contraction(ref p, pos, end, ignoreCase: true);
            if (c > 0) { pos += p.Add(pos + c); continue; }

            // [^\r\n\p{L}\p{N}]?\p{L}+
            if (!(cpt == '\r' || cpt == '\n' || p.Number(pos)) && (p.Letter(pos) || p.Letter(pos + 1)))
            {
                pos++;
                while (p.Letter(pos)) pos++;
                p.Add(pos);
                continue;
            }
            // \p{N}{1,maxDigits}
            if (p.Number(pos))
            {
                int start = pos;
                while (p.Number(pos))
                    if (++pos - start >= maxDigits) { p.Add(pos); start = pos; }
                p.Add(pos);
                continue;
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*  (llama.cpp tests "in range" on pos, not on pos + 1)
            int q = cpt == ' ' ? pos + 1 : pos;
            if (OtherOrOut(ref p, q))
            {
                pos = q;
                while (p.Other(pos)) pos++;
                while (p.Cpt(pos) is '\r' or '\n') pos++;
                p.Add(pos);
                continue;
            }

            int n = 0, lastRn = 0;
            while (p.Space(pos + n))
            {
                if (p.Cpt(pos + n) is '\r' or '\n') lastRn = pos + n + 1;
                n++;
            }
            if (lastRn > 0) { pos = lastRn; p.Add(pos); continue; }                              // \s*[\r\n]+
            if (n > 1 && p.Cpt(pos + n) != OutOfRange) { pos += n - 1; p.Add(pos); continue; } // \s+(?!\S)
            if (n > 0) { pos += n; p.Add(pos); continue; }                                       // \s+
            p.Add(++pos);
        }
    }

    /// <summary>llama.cpp's test !(whitespace | letter | number) on flags, which is also true outside the piece.</summary>
    static bool OtherOrOut(ref Piece p, int pos) => !p.InRange(pos) || p.Other(pos);
}
