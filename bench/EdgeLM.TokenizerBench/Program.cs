// EdgeLM.TokenizerBench: `speed [--runs N] [--vocab a,b]` times encoding 1 MiB of mixed Chinese and
// English text with EdgeLM, Microsoft.ML.Tokenizers and llama.cpp (LLamaSharp) in one process and
// prints a Markdown table of medians; `parity [--strings N]` counts, per vocabulary and
// Microsoft.ML.Tokenizers loader, the llama.cpp test cases and random strings it reproduces exactly;
// `compress --vocab-size N [--reps R] [--modes plain,W:B]` measures trained tokenizers' bytes per token.
using EdgeLM.TokenizerBench;
using LLama.Native;

string mode = args.Length > 0 ? args[0] : "speed";
int runs = IntArg("--runs", 5);
int strings = IntArg("--strings", 1000);
string? only = StrArg("--vocab");
string tmp = Directory.CreateTempSubdirectory("edgelm-tokbench-").FullName;
try
{
    NativeApi.llama_empty_call();
    NativeLogConfig.llama_log_set((level, message) => { });
    if (mode == "speed") Speed.Run(only?.Split(',') ?? ["llama-bpe", "qwen2", "gpt-2", "llama-spm"], runs, tmp);
    else if (mode == "parity") Parity.Run(only?.Split(',') ?? Vocabs.All, strings, tmp);
    else if (mode == "compress") Compression.Run(IntArg("--vocab-size", 8000), IntArg("--reps", 8), (StrArg("--modes") ?? "plain,2:1.4").Split(','));
    else
    {
        Console.Error.WriteLine("usage: EdgeLM.TokenizerBench speed [--runs N] [--vocab a,b] | parity [--strings N] [--vocab a,b] | " +
            "compress [--vocab-size N] [--reps R] [--modes plain,W:B]");
        return 2;
    }
    return 0;
}
finally
{
    Directory.Delete(tmp, recursive: true);
}

int IntArg(string name, int fallback) => StrArg(name) is string s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : fallback;

string? StrArg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
