// Microsoft.ML.Tokenizers 2.0.1 as a second oracle for WordPiece and Unigram, on the same files:
// BertTokenizer on the made-up vocabulary written as a BERT vocab.txt, and SentencePieceTokenizer on
// Golden/unigram4k.model. It is a different implementation (Hugging Face's BERT rules, SentencePiece's
// own normalizer), so the tests assert agreement where the two algorithms are the same: plain text in
// the scripts the vocabularies cover. Where they differ by design, the counts are recorded in
// docs/TOKENIZERS.md; these tests print them.
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using Xunit.Abstractions;
using BertOptions = Microsoft.ML.Tokenizers.BertOptions;
using BertTokenizer = Microsoft.ML.Tokenizers.BertTokenizer;
using SentencePieceTokenizer = Microsoft.ML.Tokenizers.SentencePieceTokenizer;

namespace EdgeLM.Tests.Tokenizers;

public sealed class MlTokenizersParityTests(ITestOutputHelper output) : IDisposable
{
    readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>Held-out English lines and Tang poems: text both sides must tokenize identically.</summary>
    static List<string> PlainText()
    {
        string en = File.ReadAllText(TestData.File("corpus", "en", "tinyshakespeare.txt"))[^30_000..];
        var texts = en.Split('\n').Where(l => l.Length > 0).ToList();
        var poems = new List<string>();
        EdgeLM.Tokenizers.Training.TrainingCorpus.ReadFile(TestData.File("corpus", "zh", "poet.tang.4000.json"), poems);
        texts.AddRange(poems.Take(200));
        return texts;
    }

    [Fact]
    public void WordPiece_matches_BertTokenizer_on_plain_text_and_vocab_txt_loads_to_the_same_ids()
    {
        var data = MadeUpVocabs.WordPiece;
        string vocabTxt = _tmp.File("vocab.txt");
        File.WriteAllLines(vocabTxt, Array.ConvertAll(data.Tokens, TokenizerJson.BertPiece));
        var ours = new Tokenizer(data);
        var fromTxt = Tokenizer.Load(vocabTxt);
        var bert = BertTokenizer.Create(vocabTxt, new BertOptions { LowerCaseBeforeTokenization = true, RemoveNonSpacingMarks = true });

        // BertTokenizer does not isolate CJK ideographs outside the BMP (U+20000..) as llama.cpp and
        // Hugging Face do, so texts holding one are counted, not asserted.
        var texts = PlainText();
        var differ = new List<string>();
        int astral = 0, astralSame = 0;
        foreach (string text in texts)
        {
            int[] got = ours.Encode(text, addBos: true);
            Assert.Equal(got, fromTxt.Encode(text, addBos: true));
            int[] ml = [.. bert.EncodeToIds(text)];
            bool same = got.AsSpan().SequenceEqual(ml);
            if (text.Any(char.IsSurrogate)) { astral++; astralSame += same ? 1 : 0; }
            else if (!same) differ.Add(Difference(text, ml, got));
        }
        output.WriteLine($"BertTokenizer: {texts.Count - astral - differ.Count}/{texts.Count - astral} BMP-only plain texts identical, {astralSame}/{astral} with astral ideographs");
        Assert.True(differ.Count == 0, string.Join("\n", differ.Take(3)));
        ReportRandom("BertTokenizer", t => ours.Encode(t, addBos: true), t => [.. bert.EncodeToIds(t)]);
    }

    [Fact]
    public void Unigram_matches_SentencePieceTokenizer_on_plain_text()
    {
        var ours = new Tokenizer(TokenizerData.FromSentencePieceModel(MadeUpVocabs.UnigramModel));
        using var stream = File.OpenRead(MadeUpVocabs.UnigramModel);
        var spm = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        // SentencePiece (and llama.cpp) merge a run of unknown pieces into one <unk>; Microsoft.ML's
        // SentencePieceTokenizer emits one per character. Compared after merging its runs.
        int unk = ours.Data.UnkId;
        int[] Ml(string t) => MergeRuns([.. spm.EncodeToIds(t)], unk);
        var texts = PlainText();
        var differ = new List<string>();
        int rawSame = 0;
        foreach (string text in texts)
        {
            int[] got = ours.Encode(text), raw = [.. spm.EncodeToIds(text)];
            rawSame += got.AsSpan().SequenceEqual(raw) ? 1 : 0;
            if (!got.AsSpan().SequenceEqual(Ml(text))) differ.Add(Difference(text, Ml(text), got));
        }
        output.WriteLine($"SentencePieceTokenizer: {texts.Count - differ.Count}/{texts.Count} plain texts identical after merging <unk> runs ({rawSame} before)");
        Assert.True(differ.Count == 0, string.Join("\n", differ.Take(3)));
        ReportRandom("SentencePieceTokenizer (unk runs merged)", t => ours.Encode(t), Ml);
    }

    static int[] MergeRuns(int[] ids, int unk)
    {
        var merged = new List<int>(ids.Length);
        foreach (int id in ids)
            if (id != unk || merged.Count == 0 || merged[^1] != unk) merged.Add(id);
        return [.. merged];
    }

    static string Difference(string text, int[] ml, int[] ours)
    {
        string t = System.Text.Json.JsonSerializer.Serialize(text);
        return $"{(t.Length > 120 ? t[..120] + "…" : t)}\n  ML   {VocabCases.Show(ml.Take(40))}\n  ours {VocabCases.Show(ours.Take(40))}";
    }

    /// <summary>Prints how many random strings (lone surrogates already as U+FFFD) the two agree on; not asserted.</summary>
    void ReportRandom(string name, Func<string, int[]> ours, Func<string, int[]> ml)
    {
        var rng = new Random(4321);
        int same = 0;
        const int N = 1000;
        string? first = null;
        for (int i = 0; i < N; i++)
        {
            string text = System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(RandomText.Next(rng)));
            int[] a = ours(text), b = ml(text);
            if (a.AsSpan().SequenceEqual(b)) same++;
            else first ??= Difference(text, b, a);
        }
        output.WriteLine($"{name}: {same}/{N} random strings identical; first difference:\n{first}");
    }
}
