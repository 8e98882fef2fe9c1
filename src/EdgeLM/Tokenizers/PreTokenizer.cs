// Byte-level BPE pre-tokenization as llama.cpp does it (llama-vocab.cpp llm_tokenizer_bpe's regex
// lists per tokenizer.ggml.pre; unicode.cpp unicode_regex_split). The GPT-2, Llama 3 and Qwen2
// patterns run as llama.cpp's hand-written splitters (including their quirks); the other patterns
// run as .NET regexes over one char per code point: a "collapsed" view where every non-ASCII code
// point becomes a marker for its category (llama.cpp's trick for \p{L}, \p{N}, \p{P} under
// std::regex) and a "wide" view that keeps BMP code points. In both, non-ASCII whitespace becomes
// \v, as in llama.cpp. The stages run in order, each splitting every piece the previous one left.
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeLM.Tokenizers;

internal sealed class PreTokenizer
{
    readonly Stage[] _stages;
    readonly bool _needsCollapsed, _needsWide;

    PreTokenizer(params Stage[] stages)
    {
        _stages = stages;
        foreach (var s in stages)
        {
            _needsCollapsed |= s is RegexStage { Collapsed: true };
            _needsWide |= s is RegexStage { Collapsed: false };
        }
    }

    public static readonly string[] Supported =
        ["default", "gpt-2", "llama-bpe", "llama3", "qwen2", "stablelm2", "deepseek-llm", "deepseek-coder", "falcon", "starcoder", "mpt", "olmo", "dbrx", "smaug-bpe"];

    /// <summary>The pre-tokenizer for a tokenizer.ggml.pre name, or null when it is not implemented.</summary>
    public static PreTokenizer? For(string pre) => pre switch
    {
        "gpt-2" or "phi-2" or "jina-es" or "jina-de" or "gigachat" or "jina-v1-en" or "jina-v2-es" or "jina-v2-de"
            or "jina-v2-code" or "roberta-bpe" or "mpt" or "olmo" or "jais" => new(new Gpt2Stage()),
        _ when TokenizerData.IsLlama3Family(pre) || pre is "dbrx" or "smaug-bpe" or "chatglm-bpe" => new(new Llama3Stage(3)),
        "qwen2" or "stablelm2" or "deepseek-r1-qwen" or "megrez" => new(new Llama3Stage(1)),
        "deepseek-llm" => new(Wide("[\r\n]"), Wide(Ws + "?[" + DeepseekLetters + "]+"),
            Wide(Ws + "?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+"), Wide(Ws + @"+\z"),
            Wide(Cjk), Collapsed("[" + N + "]+")),
        "deepseek-coder" => new(Wide("[\r\n]"), Collapsed(Ws + "?[" + L + "]+"), Collapsed(Ws + "?[" + P + "]+"),
            Wide(Cjk), Collapsed("[" + N + "]")),
        "falcon" => new(Collapsed("[" + P + @"$+<=>\^~|`]+"), new Gpt2Stage(), Wide("[0-9][0-9][0-9]")),
        "starcoder" or "refact" or "command-r" or "smollm" or "codeshell" or "exaone" or "minerva" =>
            new(Collapsed("[" + N + "]"), new Gpt2Stage()),
        "default" => new(Collapsed("[" + P + @"$+<=>\^~|]+"), new Gpt2Stage(), Collapsed("[" + N + "]+"), Wide("[0-9][0-9][0-9]")),
        _ => null,
    };

    // std::regex's \s is C isspace: space, \t, \n, \v, \f, \r.
    const string Ws = "[\t-\r ]";
    // Collapsed-view classes: the category marker plus the ASCII members llama.cpp lists.
    const string N = "\u00D10-9";
    const string L = "\u00D2A-Za-z";
    const string P = "\u00D3!-#%-*,-/:-;?-@\\[-\\]_{}";
    const string Cjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

    // deepseek-llm's letter class (cased letters), code point ranges; the astral ones become U+E000 in the wide view.
    static readonly int[] DeepseekLetterRanges =
    [
        0x41, 0x5A, 0x61, 0x7A, 0xB5, 0xB5, 0xC0, 0xD6, 0xD8, 0xF6, 0xF8, 0x1BA, 0x1BC, 0x1BF, 0x1C4, 0x293, 0x295, 0x2AF,
        0x370, 0x373, 0x376, 0x377, 0x37B, 0x37D, 0x37F, 0x37F, 0x386, 0x386, 0x388, 0x38A, 0x38C, 0x38C, 0x38E, 0x3A1,
        0x3A3, 0x3F5, 0x3F7, 0x481, 0x48A, 0x52F, 0x531, 0x556, 0x10A0, 0x10C5, 0x13A0, 0x13F5, 0x13F8, 0x13FD,
        0x1C90, 0x1CBA, 0x1CBD, 0x1CBF, 0x1D00, 0x1D2B, 0x1D6B, 0x1D77, 0x1D79, 0x1D9A, 0x1E00, 0x1F15, 0x1F18, 0x1F1D,
        0x1F20, 0x1F45, 0x1F48, 0x1F4D, 0x1F50, 0x1F57, 0x1F59, 0x1F59, 0x1F5B, 0x1F5B, 0x1F5D, 0x1F5D, 0x1F5F, 0x1F7D,
        0x1F80, 0x1FB4, 0x1FB6, 0x1FBC, 0x1FBE, 0x1FBE, 0x1FC2, 0x1FC4, 0x1FC6, 0x1FCC, 0x1FD0, 0x1FD3, 0x1FD6, 0x1FDB,
        0x1FE0, 0x1FEC, 0x1FF2, 0x1FF4, 0x1FF6, 0x1FFC, 0x2102, 0x2102, 0x2107, 0x2107, 0x210A, 0x2113, 0x2115, 0x2115,
        0x2119, 0x211D, 0x2124, 0x2124, 0x2126, 0x2126, 0x2128, 0x2128, 0x212A, 0x212D, 0x212F, 0x2134, 0x2139, 0x2139,
        0x213C, 0x213F, 0x2145, 0x2149, 0x214E, 0x214E, 0x2183, 0x2184, 0x2C00, 0x2C7B, 0x2C7E, 0x2CE4, 0x2CEB, 0x2CEE,
        0x2CF2, 0x2CF3, 0xA640, 0xA66D, 0xA680, 0xA69B, 0xA722, 0xA76F, 0xA771, 0xA787, 0xA78B, 0xA78E, 0xAB70, 0xABBF,
        0xFB00, 0xFB06, 0xFB13, 0xFB17, 0xFF21, 0xFF3A, 0xFF41, 0xFF5A,
        0x10400, 0x1044F, 0x104B0, 0x104D3, 0x104D8, 0x104FB, 0x10C80, 0x10CB2, 0x10CC0, 0x10CF2, 0x118A0, 0x118DF, 0x1E900, 0x1E943,
    ];

    static readonly string DeepseekLetters = BuildClass(DeepseekLetterRanges) + "\uE000";

    static string BuildClass(int[] ranges)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < ranges.Length; i += 2)
            if (ranges[i] <= 0xFFFF) sb.Append($"\\u{ranges[i]:X4}-\\u{ranges[i + 1]:X4}");
        return sb.ToString();
    }

    static bool IsDeepseekAstralLetter(int cp)
    {
        var r = DeepseekLetterRanges;
        for (int i = r.Length - 14; i < r.Length; i += 2)
            if (cp >= r[i] && cp <= r[i + 1]) return true;
        return false;
    }

    static RegexStage Wide(string pattern) => new(new Regex(pattern, RegexOptions.CultureInvariant), false);
    static RegexStage Collapsed(string pattern) => new(new Regex(pattern, RegexOptions.CultureInvariant), true);

    /// <summary>Splits one fragment's code points; appends the piece lengths (in code points) to <paramref name="lengths"/>.</summary>
    public void Split(ReadOnlySpan<int> cps, List<int> lengths, List<int> scratch)
    {
        string? collapsed = _needsCollapsed ? CollapsedView(cps) : null;
        string? wide = _needsWide ? WideView(cps) : null;
        lengths.Clear();
        if (cps.Length == 0) return;
        lengths.Add(cps.Length);
        foreach (var stage in _stages)
        {
            scratch.Clear();
            int pos = 0;
            foreach (int len in lengths)
            {
                stage.Split(cps, collapsed, wide, pos, pos + len, scratch);
                pos += len;
            }
            lengths.Clear();
            lengths.AddRange(scratch);
        }
    }

    static string CollapsedView(ReadOnlySpan<int> cps)
    {
        var chars = new char[cps.Length];
        for (int i = 0; i < cps.Length; i++)
        {
            int cp = cps[i];
            chars[i] = cp < 128 ? (char)cp
                : UnicodeFlags.IsWhitespace(cp) ? '\v'
                : UnicodeFlags.Of(cp) switch
                {
                    CpFlags.Number => '\u00D1',
                    CpFlags.Letter => '\u00D2',
                    CpFlags.Punctuation => '\u00D3',
                    CpFlags.Mark => '\u00D4',
                    CpFlags.Symbol => '\u00D5',
                    _ => '\u00D0',
                };
        }
        return new string(chars);
    }

    static string WideView(ReadOnlySpan<int> cps)
    {
        var chars = new char[cps.Length];
        for (int i = 0; i < cps.Length; i++)
        {
            int cp = cps[i];
            chars[i] = cp > 0x7F && UnicodeFlags.IsWhitespace(cp) ? '\v'
                : cp is 0xE000 or 0xE001 ? '\uE002' // keep the two markers below unambiguous
                : cp <= 0xFFFF ? (char)cp
                : IsDeepseekAstralLetter(cp) ? '\uE000' : '\uE001';
        }
        return new string(chars);
    }

    abstract class Stage
    {
        /// <summary>Splits code points [ini, end); appends piece lengths.</summary>
        public abstract void Split(ReadOnlySpan<int> cps, string? collapsed, string? wide, int ini, int end, List<int> output);
    }

    sealed class RegexStage(Regex regex, bool collapsed) : Stage
    {
        public bool Collapsed { get; } = collapsed;

        public override void Split(ReadOnlySpan<int> cps, string? collapsedView, string? wideView, int ini, int end, List<int> output)
        {
            // A slice is the whole input to the regex, so \z and lookarounds stop at the piece, as in std::regex_iterator.
            ReadOnlySpan<char> piece = (Collapsed ? collapsedView : wideView).AsSpan(ini, end - ini);
            int last = 0;
            foreach (var m in regex.EnumerateMatches(piece))
            {
                if (m.Length == 0) continue;
                if (m.Index > last) output.Add(m.Index - last);
                output.Add(m.Length);
                last = m.Index + m.Length;
            }
            if (last < piece.Length) output.Add(piece.Length - last);
        }
    }

    sealed class Gpt2Stage : Stage
    {
        public override void Split(ReadOnlySpan<int> cps, string? collapsed, string? wide, int ini, int end, List<int> output) =>
            CustomSplitters.Gpt2(cps, ini, end, output);
    }

    sealed class Llama3Stage(int maxDigits) : Stage
    {
        public override void Split(ReadOnlySpan<int> cps, string? collapsed, string? wide, int ini, int end, List<int> output) =>
            CustomSplitters.Llama3(cps, ini, end, maxDigits, output);
    }
}
