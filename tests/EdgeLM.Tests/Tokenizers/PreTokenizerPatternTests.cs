// The Split regexes EdgeLM writes into tokenizer.json (PreTokenizerPatterns) are valid and spelled as
// the families' own files spell them: every character-class range ascends by code point (.NET's regex
// engine cannot check this: it sees astral characters as surrogate pairs), each reads back as its name,
// and deepseek-llm's letter class keeps its compatibility characters (Unicode normalization of the
// source once turned "Ὗ-ώ" (U+1F5F-U+1F7D) into the reversed range U+1F5F-U+03CE).
using System.Text;
using EdgeLM.Tokenizers;

namespace EdgeLM.Tests.Tokenizers;

public sealed class PreTokenizerPatternTests
{
    [Theory]
    [InlineData("gpt-2")]
    [InlineData("llama-bpe")]
    [InlineData("qwen2")]
    [InlineData("deepseek-llm")]
    [InlineData("deepseek-coder")]
    [InlineData("falcon")]
    [InlineData("starcoder")]
    [InlineData("default")]
    public void Every_class_range_ascends_and_the_list_reads_back_as_its_name(string pre)
    {
        string[] regexes = PreTokenizerPatterns.RegexesFor(pre)!;
        foreach (string r in regexes)
        {
            var runes = r.EnumerateRunes().ToArray();
            bool inClass = false;
            for (int i = 0; i < runes.Length; i++)
            {
                if (runes[i].Value == '\\') { i++; continue; }
                if (runes[i].Value == '[') inClass = true;
                else if (runes[i].Value == ']') inClass = false;
                else if (inClass && i + 2 < runes.Length && runes[i + 1].Value == '-' && runes[i + 2].Value is not (']' or '\\'))
                    Assert.True(runes[i] <= runes[i + 2], $"{pre}: range U+{runes[i].Value:X4}-U+{runes[i + 2].Value:X4} is reversed");
            }
        }
        Assert.Equal(pre, PreTokenizerPatterns.NameOf(regexes));
    }

    [Fact]
    public void Deepseek_letters_keep_their_compatibility_characters()
    {
        string letters = PreTokenizerPatterns.RegexesFor("deepseek-llm")![1];
        foreach (char c in "\u1F7D\u1FBE\u1FD3\u1FDB\u2126\u212A")
            Assert.Contains(c, letters);
        Assert.Contains("\u1F5F-\u1F7D", letters);
    }
}
