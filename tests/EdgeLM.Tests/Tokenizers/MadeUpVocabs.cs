// Vocabularies for the tokenizer kinds the shared testdata has no file for, assembled from the
// reference corpora so they look like the real thing:
// - WordPiece (BERT layout: [PAD], [unused0..98], [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103, then
//   every single character of several scripts as word-initial and continuation pieces, the 2,500
//   most frequent tinyshakespeare words, 700 frequent word endings as "##" pieces and 800 frequent
//   characters of poet.tang.0.json), in llama.cpp's '▁' form;
// - Unigram: Golden/unigram4k.model, trained offline with SentencePiece 0.1.97 (spm_train, unigram,
//   4,000 pieces, nmt_nfkc charsmap, user-defined "<sep>" and "<cls>") on the first 400,000 chars of
//   tinyshakespeare.txt and 1,500 poems of poet.tang.0/1000.json. Golden/unigram4k.spm.out holds
//   SentencePiece's own ids for llama.cpp's 46 test texts (python3-sentencepiece, encode()).
using System.Text.Json;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;

namespace EdgeLM.Tests.Tokenizers;

internal static class MadeUpVocabs
{
    static readonly Lazy<TokenizerData> WordPieceLazy = new(BuildWordPiece);

    public static TokenizerData WordPiece => WordPieceLazy.Value;

    public static string UnigramModel => Path.Combine(TestData.RepoRoot, "tests", "EdgeLM.Tests", "Tokenizers", "Golden", "unigram4k.model");

    static TokenizerData BuildWordPiece()
    {
        var tokens = new List<string> { "[PAD]" };
        for (int i = 0; i < 99; i++) tokens.Add($"[unused{i}]");
        tokens.AddRange(["[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        void Add(string t)
        {
            if (seen.Add(t)) tokens.Add(t);
        }

        foreach (var (lo, hi) in new[] { ('!', '~'), ('à', 'ÿ'), ('α', 'ω'), ('а', 'я'), ('ぁ', 'ゖ'), ('\u0300', '\u0308') })
            for (char c = lo; c <= hi; c++)
            {
                if (char.IsUpper(c)) continue; // the text is lowercased first
                Add("\u2581" + c);
                Add(c.ToString());
            }
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        var endings = new Dictionary<string, int>(StringComparer.Ordinal);
        string en = File.ReadAllText(TestData.File("corpus", "en", "tinyshakespeare.txt")).ToLowerInvariant();
        foreach (string w in en.Split((char[])[' ', '\n', ',', '.', ';', ':', '!', '?', '\'', '-', '&'], StringSplitOptions.RemoveEmptyEntries))
        {
            words[w] = words.GetValueOrDefault(w) + 1;
            for (int k = 2; k <= 4 && k < w.Length; k++) endings[w[^k..]] = endings.GetValueOrDefault(w[^k..]) + 1;
        }
        foreach (var w in words.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(2500)) Add("\u2581" + w.Key);
        foreach (var e in endings.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(700)) Add(e.Key);
        var hanzi = new Dictionary<char, int>();
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(TestData.File("corpus", "zh", "poet.tang.0.json"))))
            foreach (var poem in doc.RootElement.EnumerateArray())
                foreach (var line in poem.GetProperty("paragraphs").EnumerateArray())
                    foreach (char c in line.GetString()!)
                        if (c is >= '\u4E00' and <= '\u9FFF') hanzi[c] = hanzi.GetValueOrDefault(c) + 1;
        foreach (var h in hanzi.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Take(800)) Add("\u2581" + h.Key);

        var types = new TokenType[tokens.Count];
        Array.Fill(types, TokenType.Normal);
        foreach (int id in (int[])[0, 100, 101, 102, 103]) types[id] = TokenType.Control;
        return new TokenizerData
        {
            Model = "bert",
            Tokens = [.. tokens],
            Types = types,
            UnkId = 100,
            BosId = 101,
            SepId = 102,
            PadId = 0,
            AddBos = true,
        }.Validate("made-up WordPiece vocabulary");
    }
}
