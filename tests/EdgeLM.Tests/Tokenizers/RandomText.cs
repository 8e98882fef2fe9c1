// Seeded random test strings that stress pre-tokenizers: mixed scripts, CJK, emoji, combining marks,
// control characters, runs of spaces / tabs / newlines, digits of several scripts, contractions.
// Unpaired surrogates are included: llama.cpp receives the text from LLamaSharp's Tokenize, which
// encodes the .NET string with Encoding.UTF8, so each lone surrogate reaches it as EF BF BD (U+FFFD);
// Tokenizer.Encode makes the same replacement. Only long-assigned code points, so Unicode-version differences between .NET and llama.cpp's
// tables do not show up as false failures.
using System.Text;

namespace EdgeLM.Tests.Tokenizers;

internal static class RandomText
{
    /// <summary>Random strings per vocabulary in the parity tests: a few hundred keeps CI quick;
    /// EDGELM_TOKENIZER_FUZZ=10000 runs the long check.</summary>
    public static readonly int StringsPerVocab =
        int.TryParse(Environment.GetEnvironmentVariable("EDGELM_TOKENIZER_FUZZ"), out int n) && n > 0 ? n : 300;

    static readonly string[] Words =
    [
        "the", "Hello", "world", "don't", "I'M", "we'll", "they've", "it's", "'re", "'D", "naïve", "café", "Ünïcödé",
        "Привет", "мир", "Γειά", "σου", "שלום", "مرحبا", "नमस्ते", "हिन्दी", "こんにちは", "カタカナ", "안녕하세요", "中文", "汉字测试",
        "😀", "👍🏽", "🚀", "👨‍👩‍👧", "🇫🇷", "∑", "≠", "€", "©", "™", "½", "²", "٣٤٥", "０１２", "Ⅻ", "µ", "ﬁ", "ǅ",
        "<s>", "</s>", "<|endoftext|>", "[PAD]", "```", "->", "!=", "...", "—", "«»", "“quoted”", "¿Qué?", "ß", "İ", "ŉ",
        "3.14159", "1234567", "00", "x86_64", "e\u0301", "a\u0308\u0323", "\u200B", "\u00AD", "\uFEFF", "🧑‍💻", "Ω", "K",
    ];

    static readonly string[] Spaces = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t\t ", "\u00A0", "\u3000", "\u2009", "      ", "\n \n", "\v", "\f"];

    public static string Next(Random rng)
    {
        var sb = new StringBuilder();
        int parts = rng.Next(1, 14);
        for (int i = 0; i < parts; i++)
        {
            switch (rng.Next(10))
            {
                case 8: sb.Append(LongRun(rng)); break;
                case 9: sb.Append(rng.Next(2) == 0 ? '\uD83D' : '\uDE00'); break; // a lone high or low surrogate
                case 0: case 1: case 2: sb.Append(Words[rng.Next(Words.Length)]); break;
                case 3: sb.Append(Spaces[rng.Next(Spaces.Length)]); break;
                case 4: sb.Append(rng.Next(0, 100000).ToString(System.Globalization.CultureInfo.InvariantCulture)); break;
                case 5: sb.Append((char)rng.Next(0x21, 0x7F)); break;
                case 6: sb.Append(RandomCodePoint(rng)); break;
                default: sb.Append(' ').Append(Words[rng.Next(Words.Length)]); break;
            }
        }
        return sb.ToString();
    }

    // Long runs where pre-tokenizers' whitespace and digit rules interact: spaces before a word,
    // mixed tab / newline runs, digit strings longer than the 3-digit groups of llama3 and qwen2.
    static string LongRun(Random rng)
    {
        string[] units = [" ", "\t", "\n", "\r\n", " \n", "0123456789", "7", "\u3000"];
        var sb = new StringBuilder();
        string unit = units[rng.Next(units.Length)];
        for (int n = rng.Next(8, 80); n > 0; n--) sb.Append(rng.Next(6) == 0 ? units[rng.Next(units.Length)] : unit);
        return sb.ToString();
    }

    static string RandomCodePoint(Random rng)
    {
        // (start, end) blocks of long-assigned characters.
        (int Lo, int Hi)[] blocks =
        [
            (0x01, 0x1F), (0xA1, 0x17F), (0x391, 0x3C9), (0x410, 0x44F), (0x5D0, 0x5EA), (0x621, 0x64A), (0x905, 0x939),
            (0x3041, 0x3093), (0x30A1, 0x30F6), (0x4E00, 0x9FA5), (0xAC00, 0xD7A3), (0x2010, 0x2027), (0x2190, 0x21FF),
            (0x1F600, 0x1F64F), (0x1F300, 0x1F5FF), (0xFF01, 0xFF5E), (0x0300, 0x036F), (0x2070, 0x209C),
        ];
        var (lo, hi) = blocks[rng.Next(blocks.Length)];
        int cp = rng.Next(lo, hi + 1);
        if (cp is 0x2028 or 0x2029 or 0x2065) cp = 0x2026;
        return char.ConvertFromUtf32(cp);
    }
}
