// WordPiece (BERT) as llama.cpp's llm_tokenizer_wpm_session, for one text fragment. Pre-tokenizing
// (llama.cpp's preprocess): each code point is replaced by the first code point of its NFD
// decomposition (so precomposed accents go), whitespace ends a word, NUL / U+FFFD / control
// characters and combining marks are dropped, everything is lowercased, and punctuation, ASCII symbols and CJK
// ideographs are words of their own. Each word, with '▁' put in front, is cut greedily into the
// longest vocabulary entries from the left; a word with no complete cut becomes the unknown token.
// The vocabulary is in llama.cpp's form: word-initial pieces carry '▁' ("▁play"), continuations are
// bare ("ing" for BERT's "##ing"). Unlike Hugging Face's WordPiece, words over max_input_chars_per_word
// (100) are cut like any other instead of becoming [UNK], as in llama.cpp.
using System.Text;

namespace EdgeLM.Tokenizers;

internal sealed class WordPieceEncoder(Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> ids, int unkId)
{
    // Longest token in UTF-16 units: no longer slice can match.
    readonly int _maxTokenChars = MaxLength(ids.Dictionary);

    static int MaxLength(Dictionary<string, int> d)
    {
        int max = 1;
        foreach (string k in d.Keys) max = Math.Max(max, k.Length);
        return max;
    }

    public void Encode(ReadOnlySpan<char> text, List<int> output)
    {
        var s = EncodeScratch.Get();
        // Each input char gives at most 2 chars (a lowercased code point stays in its plane), plus '▁'.
        s.EnsureChars(text.Length * 2 + 2);
        var buf = s.Chars;
        buf[0] = '\u2581';
        int n = 1;
        foreach (var rune in text.EnumerateRunes())
        {
            int cp = NfdTable.First(rune.Value);
            if (UnicodeFlags.IsWhitespace(cp))
            {
                n = Flush(buf, n, output);
                continue;
            }
            var flags = UnicodeFlags.Of(cp);
            // Marks go too: llama.cpp drops every Mn / Mc / Me code point here (measured: "a\u0301b",
            // "a\u0903b", "a\u20DDb" all give "▁a" "b"), which makes this HF's strip_accents.
            if (cp is 0 or 0xFFFD || (flags & (CpFlags.Control | CpFlags.Mark)) != 0) continue;
            var lower = Rune.ToLowerInvariant(new Rune(cp));
            bool alone = (flags & CpFlags.Punctuation) != 0 || (cp < 0x7F && (flags & CpFlags.Symbol) != 0) || IsChinese(cp);
            if (alone) n = Flush(buf, n, output);
            n += lower.EncodeToUtf16(buf.AsSpan(n));
            if (alone) n = Flush(buf, n, output);
        }
        Flush(buf, n, output);
    }

    /// <summary>Tokenizes buf[0..n) ('▁' + word) when the word is not empty; returns the length of an empty word.</summary>
    int Flush(char[] buf, int n, List<int> output)
    {
        if (n > 1) EncodeWord(buf.AsSpan(0, n), output);
        return 1;
    }

    void EncodeWord(ReadOnlySpan<char> word, List<int> output)
    {
        int start = output.Count;
        for (int i = 0; i < word.Length;)
        {
            int matched = 0;
            for (int len = Math.Min(word.Length - i, _maxTokenChars); len > 0; len--)
            {
                if (!ids.TryGetValue(word.Slice(i, len), out int id)) continue;
                output.Add(id);
                matched = len;
                break;
            }
            if (matched == 0)
            {
                // No token starts here: the whole word is unknown (llama.cpp discards its partial cut).
                output.RemoveRange(start, output.Count - start);
                break;
            }
            i += matched;
        }
        if (output.Count == start) output.Add(unkId);
    }

    static bool IsChinese(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF) // llama.cpp copies HF's 0x2B920 (not 0x2B820)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
