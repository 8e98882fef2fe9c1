// Encoding speed on the 1 MiB mixed text: every tokenizer encodes the whole text once per run
// (after one warm-up run), the median of the runs is reported in tokens per second. The warm-up run
// is shown too: it includes JIT compilation and starts with empty pre-token caches (EdgeLM's and
// Microsoft.ML.Tokenizers' both cache pre-token ids; on repeated text the median is the warm case). llama.cpp's time
// includes LLamaSharp's UTF-8 conversion of the string, as a .NET caller pays it.
using System.Diagnostics;
using System.Text;
using EdgeLM.Tokenizers;
using LLama;
using LLama.Common;

namespace EdgeLM.TokenizerBench;

internal static class Speed
{
    public static void Run(string[] names, int runs, string tmp)
    {
        string text = Corpus.Mixed();
        Console.WriteLine($"text: {Encoding.UTF8.GetByteCount(text):N0} bytes, {text.Length:N0} chars; median of {runs} runs after a warm-up");
        Console.WriteLine();
        Console.WriteLine("| vocabulary | tokenizer | tokens | median ms | first run ms | tokens/s (median) | MB/s | ids = llama.cpp |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (string name in names)
        {
            var v = Vocabs.Get(name, tmp);
            using var weights = LLamaWeights.LoadFromFile(new ModelParams(v.Gguf) { VocabOnly = true });
            int[] reference = Array.ConvertAll(weights.Tokenize(text, false, false, Encoding.UTF8), x => (int)x);
            var ours = new Tokenizer(v.Data);
            Time(name, "EdgeLM", () => ours.Encode(text), reference, runs);
            // Cold cache, warm JIT: a fresh tokenizer (built before the clock starts) for every run.
            var fresh = new Queue<Tokenizer>();
            for (int i = 0; i <= runs; i++) fresh.Enqueue(new Tokenizer(v.Data));
            Time(name, "EdgeLM, empty cache", () => fresh.Dequeue().Encode(text), reference, runs);
            foreach (var (loader, tok, _) in MlPeers.For(v))
                if (tok is not null) Time(name, "ML " + loader, () => [.. tok.EncodeToIds(text)], reference, runs);
            Time(name, "llama.cpp", () => Array.ConvertAll(weights.Tokenize(text, false, false, Encoding.UTF8), x => (int)x), reference, runs);
        }
    }

    static void Time(string name, string who, Func<int[]> encode, int[] reference, int runs)
    {
        long c0 = Stopwatch.GetTimestamp();
        int[] ids = encode(); // warm-up: JIT, and the pre-token caches all three peers keep fill up
        double first = Stopwatch.GetElapsedTime(c0).TotalMilliseconds;
        var ms = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            ids = encode();
            ms[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(ms);
        double med = ms[runs / 2];
        Console.WriteLine($"| {name} | {who} | {ids.Length:N0} | {med:F1} | {first:F1} | {ids.Length / med * 1000:N0} | {Corpus.Bytes / med / 1000:F2} | {(ids.AsSpan().SequenceEqual(reference) ? "yes" : "no")} |");
    }
}
