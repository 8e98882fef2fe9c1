// `compress --vocab-size N [--reps R] [--modes W:B,...]`: trains byte-level BPE tokenizers on the reference
// corpus (the first 90% of tinyshakespeare repeated R times, corpus "A" at R = 8 and "C" at R = 1, plus
// poet.tang.{0,1000,2000,3000}.json) and prints bytes per token on held-out text (the last 10% of
// tinyshakespeare; the poems of poet.tang.4000.json joined with '\n'). A mode W:B is --chinese-aware with
// Han weight W and character bonus B; "plain" is plain BPE. The table in docs/TOKENIZER-TRAINING.md.
using System.Globalization;
using System.Text;
using EdgeLM.Tokenizers;
using EdgeLM.Tokenizers.Training;

namespace EdgeLM.TokenizerBench;

internal static class Compression
{
    public static void Run(int vocab, int reps, IReadOnlyList<string> modes)
    {
        string corpus = Path.Combine(Vocabs.TestData, "corpus");
        string en = File.ReadAllText(Path.Combine(corpus, "en", "tinyshakespeare.txt"));
        int cut = (int)(en.Length * 0.9);
        var docs = new List<string>();
        for (int i = 0; i < reps; i++) docs.Add(en[..cut]);
        foreach (int f in (int[])[0, 1000, 2000, 3000]) TrainingCorpus.ReadFile(Path.Combine(corpus, "zh", $"poet.tang.{f}.json"), docs);
        var poems = new List<string>();
        TrainingCorpus.ReadFile(Path.Combine(corpus, "zh", "poet.tang.4000.json"), poems);
        string zh = string.Join("\n", poems), held = en[cut..];
        Console.WriteLine($"| vocab | English ×{reps} | mode | English B/tok | Chinese B/tok |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (string mode in modes)
        {
            var options = new BpeTrainerOptions { VocabSize = vocab, SpecialTokens = ["<|endoftext|>"] };
            if (mode != "plain")
            {
                string[] p = mode.Split(':');
                options = options with
                {
                    ChineseAware = true,
                    AlignToCharacters = true,
                    HanWeight = double.Parse(p[0], CultureInfo.InvariantCulture),
                    CharacterBonus = p.Length > 1 ? double.Parse(p[1], CultureInfo.InvariantCulture) : 1,
                };
            }
            var t = new Tokenizer(BpeTrainer.Train(docs, options));
            double e = Encoding.UTF8.GetByteCount(held) / (double)t.Encode(held).Length;
            double z = Encoding.UTF8.GetByteCount(zh) / (double)t.Encode(zh).Length;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {vocab} | {reps} | {mode} | {e:F3} | {z:F3} |"));
        }
    }
}
