// The benchmark text: about 1 MiB of English and Chinese in alternating blocks, from the shared
// corpus (tinyshakespeare.txt; the Tang poems with each poem's paragraphs joined by '\n'), cut at
// exactly 1 MiB of UTF-8 on a character boundary. Not random: the same text every run.
using System.Text;
using System.Text.Json;

namespace EdgeLM.TokenizerBench;

internal static class Corpus
{
    public const int Bytes = 1 << 20;

    public static string Mixed()
    {
        string corpus = Path.Combine(Vocabs.TestData, "corpus");
        string[] english = File.ReadAllText(Path.Combine(corpus, "en", "tinyshakespeare.txt")).Split('\n');
        var poems = new List<string>();
        foreach (string f in Directory.GetFiles(Path.Combine(corpus, "zh"), "poet.tang.*.json").Order(StringComparer.Ordinal))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(f));
            foreach (var poem in doc.RootElement.EnumerateArray())
                poems.Add(string.Join('\n', poem.GetProperty("paragraphs").EnumerateArray().Select(p => p.GetString())));
        }
        var sb = new StringBuilder();
        long zh = 0, en = 0;
        int line = 0;
        foreach (string poem in poems)
        {
            sb.Append(poem).Append('\n');
            zh += Encoding.UTF8.GetByteCount(poem) + 1;
            while (en < zh && line < english.Length)
            {
                sb.Append(english[line]).Append('\n');
                en += Encoding.UTF8.GetByteCount(english[line++]) + 1;
            }
            if (zh + en >= Bytes) break;
        }
        byte[] utf8 = Encoding.UTF8.GetBytes(sb.ToString());
        int cut = Bytes;
        while ((utf8[cut] & 0xC0) == 0x80) cut--; // do not split a character
        return Encoding.UTF8.GetString(utf8, 0, cut);
    }
}
