// edgelm tokenizer train FILES... --vocab N --out DIR [--min-frequency F] [--special TOKEN]...
// [--pre qwen2|llama-bpe|gpt2] [--chinese-aware [--han-weight W] [--character-bonus B]] [--threads N]: trains a byte-level BPE tokenizer
// and writes DIR/tokenizer.json, DIR/tokenizer_config.json and DIR/tokenizer.gguf. Progress goes
// to stderr; stdout gets one summary line. Ctrl+C stops it and leaves no partial file.
using System.CommandLine;
using System.Diagnostics;
using EdgeLM.Tokenizers.Training;

namespace EdgeLM.Cli;

public static class TokenizerTrainCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILES") { Description = "text files, folders, .jsonl (\"text\" field) or .json poem arrays", Arity = ArgumentArity.OneOrMore };
        var vocab = new Option<int>("--vocab") { Description = "vocabulary size, including the 256 bytes and the special tokens", Required = true };
        var outDir = new Option<string>("--out") { Description = "folder to write tokenizer.json, tokenizer_config.json and tokenizer.gguf", Required = true };
        var minFreq = new Option<long>("--min-frequency") { Description = "do not merge pairs seen fewer times than this", DefaultValueFactory = _ => 2 };
        var special = new Option<string[]>("--special") { Description = "a special (control) token; repeat for more", AllowMultipleArgumentsPerToken = false };
        var pre = new Option<string>("--pre") { Description = "pre-tokenizer: qwen2, llama-bpe or gpt2", DefaultValueFactory = _ => "qwen2" };
        var chinese = new Option<bool>("--chinese-aware") { Description = "learn only character-aligned merges and weight Chinese pre-tokens by --han-weight" };
        var hanWeight = new Option<double>("--han-weight") { Description = "with --chinese-aware: count weight of pre-tokens holding Han characters", DefaultValueFactory = _ => 2 };
        var bonus = new Option<double>("--character-bonus") { Description = "with --chinese-aware: rank merges that build one character as if this many times as frequent", DefaultValueFactory = _ => 1.4 };
        var threads = new Option<int>("--threads") { Description = "threads for counting (default: all cores)" };
        var train = new Command("train", "Train a byte-level BPE tokenizer on text") { files, vocab, outDir, minFreq, special, pre, chinese, hanWeight, bonus, threads };
        train.SetAction((r, ct) => Commands.Guard(() => Task.FromResult(Run(r.GetValue(files)!, r.GetValue(outDir)!, new BpeTrainerOptions
        {
            VocabSize = r.GetValue(vocab),
            MinFrequency = r.GetValue(minFreq),
            SpecialTokens = r.GetValue(special) ?? [],
            Pre = BpeTrainerOptions.NormalizePre(r.GetValue(pre)!),
            ChineseAware = r.GetValue(chinese),
            AlignToCharacters = r.GetValue(chinese),
            HanWeight = r.GetValue(hanWeight),
            CharacterBonus = r.GetValue(bonus),
            Threads = r.GetValue(threads),
        }, ct))));
        return new Command("tokenizer", "Tokenizer tools") { train };
    }

    static int Run(string[] paths, string outDir, BpeTrainerOptions options, CancellationToken ct)
    {
        if (!(options.HanWeight > 0) || double.IsInfinity(options.HanWeight))
            throw new ArgumentException($"--han-weight {options.HanWeight} must be a positive number");
        if (!(options.CharacterBonus >= 1 && options.CharacterBonus <= 64))
            throw new ArgumentException($"--character-bonus {options.CharacterBonus} must be between 1 and 64");
        if (options.VocabSize < 256 + options.SpecialTokens.Count)
            throw new ArgumentException($"--vocab {options.VocabSize} is smaller than 256 bytes + {options.SpecialTokens.Count} special tokens");
        var clock = Stopwatch.StartNew();
        var docs = TrainingCorpus.Read(paths, ct);
        long chars = 0;
        foreach (var d in docs) chars += d.Length;
        Console.Error.WriteLine($"read {docs.Count} documents, {chars / 1024} K characters in {clock.Elapsed.TotalSeconds:F1}s");
        var data = BpeTrainer.Train(docs, options, new ProgressLine("counting", "KB"), new ProgressLine("merging", "tokens"), ct);
        var written = TokenizerFiles.Write(data, outDir, ct);
        foreach (var f in written) Console.Error.WriteLine($"wrote {f}");
        Console.WriteLine($"trained {data.VocabSize} tokens ({data.Merges.Length} merges, pre {data.Pre}) in {clock.Elapsed.TotalSeconds:F1}s -> {outDir}");
        return 0;
    }
}
