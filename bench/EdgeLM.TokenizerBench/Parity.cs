// Which vocabularies Microsoft.ML.Tokenizers reproduces: for each loader, the share of llama.cpp's
// own test cases (ids from the .out files) and of seeded random strings (ids from llama.cpp through
// LLamaSharp) that it encodes to exactly the same ids. EdgeLM is counted beside it as a control.
using System.Text;
using EdgeLM.Tokenizers;
using LLama;
using LLama.Common;

namespace EdgeLM.TokenizerBench;

internal static class Parity
{
    public static void Run(string[] names, int strings, string tmp)
    {
        Console.WriteLine($"| vocabulary | tokenizer | llama.cpp cases | {strings} random strings | the same, lone surrogates as U+FFFD | first difference |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (string name in names)
        {
            var v = Vocabs.Get(name, tmp);
            var cases = v.HasCases ? Vocabs.Cases(name) : [];
            using var weights = LLamaWeights.LoadFromFile(new ModelParams(v.Gguf) { VocabOnly = true });
            var rng = new Random(4321);
            var texts = new List<(string, int[])>(strings);
            for (int i = 0; i < strings; i++)
            {
                string t = EdgeLM.Tests.Tokenizers.RandomText.Next(rng);
                texts.Add((t, Array.ConvertAll(weights.Tokenize(t, false, false, Encoding.UTF8), x => (int)x)));
            }
            var ours = new Tokenizer(v.Data);
            Row(name, "EdgeLM", t => ours.Encode(t), cases, texts);
            foreach (var (loader, tok, error) in MlPeers.For(v))
            {
                if (tok is null) { Console.WriteLine($"| {name} | ML {loader} | - | - | cannot load: {error?.ReplaceLineEndings(" ")} |"); continue; }
                Row(name, "ML " + loader, t => [.. tok.EncodeToIds(t)], cases, texts);
            }
        }
    }

    static void Row(string name, string who, Func<string, int[]> encode, List<(string Text, int[] Ids)> cases, List<(string Text, int[] Ids)> texts)
    {
        string? first = null;
        int Count(List<(string Text, int[] Ids)> set)
        {
            int ok = 0;
            foreach (var (text, ids) in set)
            {
                int[] got;
                try { got = encode(text); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or IndexOutOfRangeException or KeyNotFoundException)
                {
                    first ??= $"{Show(text)} throws {e.GetType().Name}";
                    continue;
                }
                if (got.AsSpan().SequenceEqual(ids)) ok++;
                else first ??= $"{Show(text)}: llama.cpp [{string.Join(' ', ids.Take(12))}] vs [{string.Join(' ', got.Take(12))}]";
            }
            return ok;
        }
        string c = cases.Count > 0 ? $"{Count(cases)}/{cases.Count}" : "-";
        string r = $"{Count(texts)}/{texts.Count}";
        // The text llama.cpp receives: LLamaSharp's UTF-8 encoding turns each lone surrogate into U+FFFD.
        var asSent = texts.ConvertAll(t => (Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(t.Text)), t.Ids));
        first = null;
        string r2 = $"{Count(asSent)}/{texts.Count}";
        Console.WriteLine($"| {name} | {who} | {c} | {r} | {r2} | {first?.Replace("|", "\\|", StringComparison.Ordinal) ?? ""} |");
    }

    static string Show(string s)
    {
        string j = System.Text.Json.JsonSerializer.Serialize(s);
        return j.Length > 60 ? j[..57] + "...\"" : j;
    }
}
