// WordPiece ("bert") and Unigram ("t5") against llama.cpp: each vocabulary is written as a
// vocabulary-only GGUF, loaded by llama.cpp (LLamaSharp, vocab_only) and by us, and both must give
// the same ids for llama.cpp's 46 test texts, random strings (RandomText), random strings around
// special-token texts with and without parse_special, and with add_special (BOS/[CLS], [SEP], EOS).
// The GGUF, and a tokenizer.json written from it, must load back to the same ids.
using System.Text;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using LLama;
using LLama.Common;
using LLama.Native;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Tokenizers;

public sealed class WordPieceUnigramTests(ITestOutputHelper output) : IDisposable
{
    static int StringsPerVocab => RandomText.StringsPerVocab;
    readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>The vocabularies: WordPiece, and the Unigram model under three normalization settings.</summary>
    public static TheoryData<string> Vocabs => new() { "wordpiece", "unigram", "unigram-plain", "unigram-no-prefix" };

    internal static TokenizerData Data(string name)
    {
        if (name == "wordpiece") return MadeUpVocabs.WordPiece;
        var unigram = TokenizerData.FromSentencePieceModel(MadeUpVocabs.UnigramModel);
        return name switch
        {
            "unigram" => unigram,
            // No charsmap and spaces kept: every byte of the text reaches the Viterbi search.
            "unigram-plain" => unigram with { PrecompiledCharsmap = null, RemoveExtraWhitespaces = false },
            "unigram-no-prefix" => unigram with { AddSpacePrefix = false },
            _ => throw new ArgumentException(name),
        };
    }

    [Theory]
    [MemberData(nameof(Vocabs))]
    public void Ids_match_llama_cpp(string vocab)
    {
        var data = Data(vocab);
        var tok = new Tokenizer(data);
        string gguf = _tmp.File(vocab + ".gguf");
        data.ToVocabOnlyGguf().Write(gguf);
        NativeApi.llama_empty_call();
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(gguf) { VocabOnly = true });
        int[] LlamaCpp(string text, bool addSpecial, bool special) =>
            Array.ConvertAll(weights.Tokenize(text, addSpecial, special, Encoding.UTF8), t => (int)t);

        var failures = new List<string>();
        int checkedCount = 0;
        void Check(string what, string text, bool addSpecial, bool special)
        {
            checkedCount++;
            int[] expected = LlamaCpp(text, addSpecial, special), got = tok.Encode(text, addSpecial, special);
            if (!got.AsSpan().SequenceEqual(expected))
                failures.Add($"{what} {System.Text.Json.JsonSerializer.Serialize(text)}\n  llama.cpp {VocabCases.Show(expected)}\n  ours      {VocabCases.Show(got)}");
        }
        foreach (var (text, _) in VocabCases.Load("llama-spm"))
        {
            Check("case", text, false, false);
            Check("case+special", text, true, false);
        }
        var specials = Enumerable.Range(0, tok.VocabSize)
            .Where(i => tok.GetTokenType(i) is TokenType.Control or TokenType.UserDefined).Select(tok.TokenText).ToArray();
        var rng = new Random(2024 + vocab.Length);
        for (int i = 0; i < StringsPerVocab; i++)
        {
            string text = RandomText.Next(rng);
            Check("random", text, false, false);
            if (i % 3 == 0)
            {
                string withSpecials = specials[rng.Next(specials.Length)] + text + specials[rng.Next(specials.Length)];
                Check("specials", withSpecials, i % 2 == 0, true);
                Check("specials as text", withSpecials, false, false);
            }
        }
        output.WriteLine($"{vocab} ({data.VocabSize} tokens): {checkedCount - failures.Count}/{checkedCount} identical to llama.cpp");
        foreach (string f in failures.Take(5)) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{failures.Count} differ; first:\n{string.Join("\n", failures.Take(3))}");

        // The GGUF and a tokenizer.json written from it read back to the same tokenizer.
        var fromGguf = Tokenizer.Load(gguf);
        string dir = _tmp.File(vocab + "-hf");
        TokenizerJson.WriteFolder(fromGguf.Data, dir);
        var fromJson = Tokenizer.Load(dir);
        var rng2 = new Random(5);
        for (int i = 0; i < 100; i++)
        {
            string text = RandomText.Next(rng2);
            int[] want = tok.Encode(text, addBos: true);
            Assert.Equal(want, fromGguf.Encode(text, addBos: true));
            Assert.Equal(want, fromJson.Encode(text, addBos: true));
        }
    }

    [Fact]
    public void Unigram_model_agrees_with_sentencepiece_itself_on_llama_cpp_test_texts()
    {
        // SentencePiece's own ids (Golden/unigram4k.spm.out, made offline) for the 46 texts.
        var tok = new Tokenizer(Data("unigram"));
        string[] lines = File.ReadAllLines(Path.ChangeExtension(MadeUpVocabs.UnigramModel, ".spm.out"));
        var cases = VocabCases.Load("llama-spm");
        var differ = new List<string>();
        for (int i = 0; i < cases.Count; i++)
        {
            int[] spm = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            int[] got = tok.Encode(cases[i].Text);
            if (!got.AsSpan().SequenceEqual(spm))
                differ.Add($"{System.Text.Json.JsonSerializer.Serialize(cases[i].Text)}\n  sentencepiece {VocabCases.Show(spm)}\n  ours          {VocabCases.Show(got)}");
        }
        output.WriteLine($"{cases.Count - differ.Count}/{cases.Count} identical to SentencePiece");
        foreach (string d in differ) output.WriteLine(d);
        Assert.Equal(46, cases.Count);
        Assert.True(differ.Count == 0, string.Join("\n", differ.Take(3)));
    }

    [Fact]
    public void Decode_of_encode_is_the_text_where_the_vocabulary_is_lossless()
    {
        // Unigram without charsmap or space folding loses nothing for text its pieces cover.
        var tok = new Tokenizer(Data("unigram-plain"));
        string en = File.ReadAllText(TestData.File("corpus", "en", "tinyshakespeare.txt"))[^20_000..];
        foreach (string line in en.Split('\n'))
            Assert.Equal(line, tok.Decode(tok.Encode(line)));

        // WordPiece lowercases and splits off punctuation, so only lowercase words separated by single
        // spaces come back as they were: every letter is a piece, so no word is [UNK].
        var wpm = new Tokenizer(Data("wordpiece"));
        foreach (string line in en.Split('\n'))
        {
            string words = string.Join(' ', line.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(w => new string(w.Where(char.IsAsciiLetterLower).ToArray())).Where(w => w.Length > 0));
            int[] ids = wpm.Encode(words);
            Assert.DoesNotContain(100, ids);
            Assert.Equal(words, wpm.Decode(ids));
        }
    }
}
