// The character-alignment rule of Chinese-aware training: a merged token may lie inside one UTF-8
// character (the partial tokens byte-level BPE needs to build a 3-byte Han character) or cover
// whole characters, but never straddle a boundary with a partial character at either end. Plain
// byte-level BPE learns tokens such as "，" + the lead byte of the next character (the qwen2
// pre-tokenizer keeps a punctuation mark with the Han run after it), which only ever serve as steps
// towards "，不"-style tokens and cost one vocabulary entry each; under this rule "，不" is built
// from "，" and "不" instead. Encoding is unchanged: the rule only decides which merges are learned.
// UTF-8 per RFC 3629: a continuation byte is 10xxxxxx; a lead byte's high bits give the length.
namespace EdgeLM.Tokenizers.Training;

public static class CharacterAlignment
{
    /// <summary>True when the bytes of <paramref name="a"/> followed by <paramref name="b"/> form an aligned token.</summary>
    public static bool Allows(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int total = a.Length + b.Length, starts = 0, lastStart = -1;
        for (int i = 0; i < total; i++)
        {
            byte x = i < a.Length ? a[i] : b[i - a.Length];
            if (IsContinuation(x)) continue;
            starts++;
            lastStart = i;
        }
        if (starts == 0) return true; // the tail of one character
        byte first = a.Length > 0 ? a[0] : b[0];
        if (IsContinuation(first)) return false; // a character's tail followed by more characters
        if (starts == 1) return true; // the head of one character, or all of it
        byte lead = lastStart < a.Length ? a[lastStart] : b[lastStart - a.Length];
        return lastStart + SequenceLength(lead) == total; // whole characters only
    }

    static bool IsContinuation(byte x) => (x & 0xC0) == 0x80;

    // The length a lead byte announces; an invalid lead (which NFC text from a string never holds) counts as 1.
    static int SequenceLength(byte lead) => lead switch
    {
        < 0x80 => 1,
        >= 0xF0 and < 0xF8 => 4,
        >= 0xE0 and < 0xF0 => 3,
        >= 0xC0 and < 0xE0 => 2,
        _ => 1,
    };
}
