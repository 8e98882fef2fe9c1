// Code-point classes as llama.cpp's unicode.cpp sees them (flags from the Unicode general category,
// White_Space from PropList.txt), and GPT-2's byte ↔ printable-character alphabet
// (openai/gpt-2 encoder.py, bytes_to_unicode). Not a full Unicode library: only what the
// pre-tokenizers need. Categories come from .NET's tables, which may be a Unicode version apart
// from llama.cpp's generated tables for newly assigned code points.
using System.Globalization;

namespace EdgeLM.Tokenizers;

[Flags]
internal enum CpFlags : byte
{
    None = 0,          // outside the text: llama.cpp's "out of range" (as_uint() == 0)
    Undefined = 1,     // Cn: unassigned, still "in range"
    Number = 2,
    Letter = 4,
    Separator = 8,
    Mark = 16,
    Punctuation = 32,
    Symbol = 64,
    Control = 128,
}

internal static class UnicodeFlags
{
    static readonly CpFlags[] Ascii = BuildAscii();

    public static CpFlags Of(int cp) => cp < 128 ? Ascii[cp] : Category(cp);

    /// <summary>Unicode White_Space (the list llama.cpp generates its whitespace set from).</summary>
    public static bool IsWhitespace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D => true,
        0x20 or 0x85 or 0xA0 or 0x1680 or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        >= 0x2000 and <= 0x200A => true,
        _ => false,
    };

    public static bool IsLetter(int cp) => (Of(cp) & CpFlags.Letter) != 0;
    public static bool IsNumber(int cp) => (Of(cp) & CpFlags.Number) != 0;

    static CpFlags[] BuildAscii()
    {
        var a = new CpFlags[128];
        for (int i = 0; i < 128; i++) a[i] = Category(i);
        return a;
    }

    static CpFlags Category(int cp)
    {
        if (cp > 0x10FFFF) return CpFlags.Undefined;
        return CharUnicodeInfo.GetUnicodeCategory(cp) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CpFlags.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CpFlags.Number,
            UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => CpFlags.Mark,
            UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
                or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => CpFlags.Punctuation,
            UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol
                or UnicodeCategory.OtherSymbol => CpFlags.Symbol,
            UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => CpFlags.Separator,
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse => CpFlags.Control,
            _ => CpFlags.Undefined,
        };
    }
}

/// <summary>GPT-2's reversible map from the 256 byte values to printable code points.</summary>
internal static class Gpt2Bytes
{
    /// <summary>Byte → char of the GPT-2 alphabet (all in the BMP, one UTF-16 unit each).</summary>
    public static readonly char[] ByteToChar = Build();

    /// <summary>Char of the alphabet → byte, or -1.</summary>
    public static readonly short[] CharToByte = Invert();

    static char[] Build()
    {
        var map = new char[256];
        var done = new bool[256];
        for (int b = 0x21; b <= 0x7E; b++) { map[b] = (char)b; done[b] = true; }
        for (int b = 0xA1; b <= 0xAC; b++) { map[b] = (char)b; done[b] = true; }
        for (int b = 0xAE; b <= 0xFF; b++) { map[b] = (char)b; done[b] = true; }
        int n = 0;
        for (int b = 0; b < 256; b++)
            if (!done[b]) map[b] = (char)(256 + n++);
        return map;
    }

    static short[] Invert()
    {
        var inv = new short[512];
        Array.Fill(inv, (short)-1);
        for (int b = 0; b < 256; b++) inv[ByteToChar[b]] = (short)b;
        return inv;
    }
}
