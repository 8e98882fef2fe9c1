// Hugging Face's own tokenizers library (Rust, via tools/hf-tokenizers) loads the tokenizer.json
// files EdgeLM reads and writes and encodes random and real text to the same ids as EdgeLM: the
// reference files (Llama 3, Qwen3), every llama.cpp vocabulary written as tokenizer.json
// (SentencePiece BPE, byte-level BPE with each pre-tokenizer), a SentencePiece Unigram model and a
// WordPiece vocabulary written as tokenizer.json, and tokenizers EdgeLM trains (plain and Chinese-aware).
// Special-token texts are split out on both sides (HF always does; EdgeLM's parseSpecial), no BOS.
using System.Text.Json;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;
using EdgeLM.Tokenizers.Training;
using Xunit.Abstractions;

namespace EdgeLM.Tests.Tokenizers;

public sealed class HfTokenizersParityTests(ITestOutputHelper output) : IDisposable
{
    const int RandomStrings = 300;
    readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    [SkippableTheory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void Reference_tokenizer_json_files_encode_as_hugging_face_does(string folder)
    {
        HfTokenizers.RequireOrSkip();
        string dir = TestData.File("tokenizers", "hf", folder);
        // Qwen3's file has an NFC normalizer, which llama.cpp (and so EdgeLM) does not apply: the texts
        // are NFC-normalized first, so what is compared is everything after the normalizer.
        AssertSameAsHf(Tokenizer.Load(dir), Path.Combine(dir, TokenizerJson.JsonName), folder, Texts(null), nfc: folder == "qwen3");
    }

    public static TheoryData<string> GgufVocabs => new() { "llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "tok512" };

    [SkippableTheory]
    [MemberData(nameof(GgufVocabs))]
    public void Gguf_vocabularies_written_as_tokenizer_json_encode_in_hugging_face_as_in_edgelm(string vocab)
    {
        HfTokenizers.RequireOrSkip();
        var original = VocabCases.Get(vocab);
        string dir = _tmp.File(vocab);
        TokenizerJson.WriteFolder(original.Data, dir);
        // deepseek-llm: llama.cpp matches its regexes on a copy of the text where every non-ASCII code
        // point stands for its category, so the ideographic space U+3000 (whitespace, and also named in
        // the punctuation class) splits differently from Hugging Face's Oniguruma. EdgeLM follows llama.cpp
        // (LlamaCppVocabTests); here texts with U+3000 are left out.
        Func<string, bool>? divergent = vocab == "deepseek-llm" ? t => t.Contains('\u3000', StringComparison.Ordinal) : null;
        AssertSameAsHf(original, Path.Combine(dir, TokenizerJson.JsonName), vocab, Texts(vocab == "tok512" ? null : vocab), divergent: divergent);
    }

    [SkippableFact]
    public void Unigram_and_wordpiece_written_as_tokenizer_json_encode_in_hugging_face_as_in_edgelm()
    {
        HfTokenizers.RequireOrSkip();
        foreach (var (name, data) in new[]
                 {
                     ("unigram", TokenizerData.FromSentencePieceModel(MadeUpVocabs.UnigramModel)),
                     ("wordpiece", MadeUpVocabs.WordPiece),
                 })
        {
            string dir = _tmp.File(name);
            TokenizerJson.WriteFolder(data, dir);
            // WordPiece: Hugging Face's BertNormalizer deletes every "other" code point (control, format such
            // as ZWJ and soft hyphen, unassigned, surrogates) except \t \n \r; llama.cpp's WPM, which
            // EdgeLM follows, keeps format characters and treats \v \f as spaces. Texts with those are left out.
            Func<string, bool>? divergent = name == "wordpiece" ? HasOtherCodePoints : null;
            AssertSameAsHf(new Tokenizer(data), Path.Combine(dir, TokenizerJson.JsonName), name, Texts("llama-spm"), divergent: divergent);
        }
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Trained_tokenizers_load_in_hugging_face_and_encode_the_same(bool chineseAware)
    {
        HfTokenizers.RequireOrSkip();
        string en = File.ReadAllText(TestData.File("corpus", "en", "tinyshakespeare.txt"));
        var docs = new List<string> { en[..200_000] };
        TrainingCorpus.ReadFile(TestData.File("corpus", "zh", "poet.tang.0.json"), docs);
        var data = BpeTrainer.Train(docs, new BpeTrainerOptions
        {
            VocabSize = 2000,
            SpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            ChineseAware = chineseAware,
            AlignToCharacters = chineseAware,
        });
        string dir = _tmp.File(chineseAware ? "zh-aware" : "plain");
        TokenizerFiles.Write(data, dir);
        var texts = Texts(null);
        foreach (string line in en[^5_000..].Split('\n')) if (line.Length > 0) texts.Add(line);
        var poems = new List<string>();
        TrainingCorpus.ReadFile(TestData.File("corpus", "zh", "poet.tang.4000.json"), poems);
        texts.AddRange(poems.Take(50));
        texts.Add("<|im_start|>user\n你好 world<|im_end|>\n");
        AssertSameAsHf(new Tokenizer(data), Path.Combine(dir, TokenizerJson.JsonName), dir, texts);
    }

    static bool HasOtherCodePoints(string text) =>
        text.Any(c => c is not ('\t' or '\n' or '\r') && char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Control
            or System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.Surrogate
            or System.Globalization.UnicodeCategory.PrivateUse or System.Globalization.UnicodeCategory.OtherNotAssigned);

    /// <summary>Random strings (RandomText), plus llama.cpp's own test inputs for the vocabulary when given.</summary>
    static List<string> Texts(string? casesOf)
    {
        var rng = new Random(2718);
        var texts = new List<string>();
        for (int i = 0; i < RandomStrings; i++) texts.Add(RandomText.Next(rng));
        if (casesOf is not null) texts.AddRange(VocabCases.Load(casesOf).Select(c => c.Text));
        return texts;
    }

    /// <summary>Where two id lists part, as token texts, so a difference reads at a glance.</summary>
    static string Pieces(Tokenizer t, int[] ids) =>
        string.Join(' ', ids.Select(id => $"{id}:{JsonSerializer.Serialize(t.TokenText(id))}"));

    /// <summary>Texts of tokens EdgeLM (as llama.cpp) treats as special but the tokenizer.json does not list
    /// as added tokens: llama.cpp's loader forces end-of-generation texts such as "&lt;/s&gt;" to control
    /// tokens even in vocabularies where they are ordinary (Qwen3), so text holding them differs by design.</summary>
    static string[] LlamaCppOnlySpecials(Tokenizer ours, string tokenizerJson)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        var added = doc.RootElement.TryGetProperty("added_tokens", out var a)
            ? a.EnumerateArray().Select(t => t.GetProperty("content").GetString()!).ToHashSet()
            : [];
        return [.. Enumerable.Range(0, ours.VocabSize)
            .Where(i => ours.GetTokenType(i) is TokenType.Control or TokenType.UserDefined && !added.Contains(ours.TokenText(i)))
            .Select(ours.TokenText)];
    }

    void AssertSameAsHf(Tokenizer ours, string tokenizerJson, string name, List<string> original, bool nfc = false,
        Func<string, bool>? divergent = null)
    {
        var (texts, hfIds, hfDecoded) = HfTokenizers.Encode(tokenizerJson, original, nfc);
        string[] llamaCppOnly = LlamaCppOnlySpecials(ours, tokenizerJson);
        var failures = new List<string>();
        int decodeDiffers = 0, skipped = 0;
        for (int i = 0; i < texts.Length; i++)
        {
            if (llamaCppOnly.Any(t => texts[i].Contains(t, StringComparison.Ordinal)) || divergent?.Invoke(texts[i]) == true)
            {
                skipped++;
                continue;
            }
            int[] ids = ours.Encode(texts[i], addBos: false, parseSpecial: true);
            if (!ids.AsSpan().SequenceEqual(hfIds[i]))
                failures.Add($"{JsonSerializer.Serialize(texts[i])}\n  hf   {Pieces(ours, hfIds[i])}\n  ours {Pieces(ours, ids)}");
            else if (ours.Decode(ids) != hfDecoded[i]) decodeDiffers++;
        }
        output.WriteLine($"{name}: {texts.Length} texts, {skipped} skipped (known llama.cpp / Hugging Face differences), " +
            $"{failures.Count} encode differently, {decodeDiffers} decode differently");
        Assert.True(skipped <= texts.Length / 2, $"{skipped} of {texts.Length} texts skipped: too few left to compare");
        Assert.True(failures.Count == 0, $"{failures.Count} of {texts.Length} texts encode differently from Hugging Face:\n" + string.Join("\n", failures.Take(5)));
    }
}
