// edgelm perplexity MODEL TEXTFILE [--ctx N] [--json] [-ctk T -ctv T] [--lora ADAPTER[:SCALE]]: llama.cpp's perplexity method (non-overlapping
// chunks of --ctx tokens, BOS first, the second half of each chunk scored), so figures compare.
using System.CommandLine;
using System.Text.Json.Nodes;
using EdgeLM.Inference;

namespace EdgeLM.Cli;

public static class PerplexityCommand
{
    public static Command Create()
    {
        var model = Commands.ModelArgument();
        var file = new Argument<string>("TEXTFILE") { Description = "UTF-8 text to score" };
        var ctx = new Option<int>("--ctx", "-c") { Description = "tokens per chunk", DefaultValueFactory = _ => 512 };
        var json = new Option<bool>("--json") { Description = "print {\"ppl\": …, \"tokens\": …} (tokens: how many were scored)" };
        var threads = new Option<int?>("--threads", "-t") { Description = "worker threads (default: one per core)" };
        var batch = new Option<int>("--batch", "-b") { Description = "tokens per forward pass", DefaultValueFactory = _ => 256 };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer file to use instead of the model's own" };
        var cache = new CacheFlags();
        var lora = new LoraFlag();
        var noRepack = NoRepackFlag.Create();
        var command = new Command("perplexity", "Score a text file the way llama.cpp's perplexity tool does") { model, file, ctx, json, threads, batch, tokenizer, noRepack };
        cache.AddTo(command);
        lora.AddTo(command);
        command.SetAction((r, ct) => Commands.Guard(() => Task.FromResult(Run(r.GetValue(model)!, r.GetValue(file)!, r.GetValue(ctx),
            r.GetValue(json), new SessionOptions { Threads = r.GetValue(threads), BatchSize = r.GetValue(batch), KeyCacheType = cache.Keys(r), ValueCacheType = cache.Values(r) },
            new LoadOptions { TokenizerPath = r.GetValue(tokenizer), Adapters = lora.Read(r), Repack = !r.GetValue(noRepack) }, ct))));
        return command;
    }

    static int Run(string path, string textFile, int ctx, bool json, SessionOptions options, LoadOptions load, CancellationToken ct)
    {
        string text = Commands.ReadUtf8(textFile);
        using var model = LanguageModel.Load(path, load);
        var tok = model.Tokenizer;
        // llama.cpp tokenizes the whole text once, with BOS when the vocabulary asks for it.
        var tokens = tok.Encode(text, addBos: tok.AddBos && tok.BosId >= 0, parseSpecial: false);
        using var session = model.CreateSession(options with { ContextLength = ctx, BatchSize = Math.Min(options.BatchSize, ctx) });
        Console.Error.WriteLine($"{tokens.Length} tokens, {tokens.Length / ctx} chunks of {ctx}");
        var result = Perplexity.Compute(model.Decoder, session.State, tokens, ctx, tok.AddBos ? tok.BosId : -1,
            new ProgressLine("perplexity", "chunks"), ct);
        if (json)
            Console.Out.WriteLine(new JsonObject
            {
                ["ppl"] = result.Perplexity,
                // As llama.cpp reports it: the tokens scored (the second half of each chunk).
                ["tokens"] = result.ScoredTokens,
                ["text_tokens"] = result.Tokens,
                ["chunks"] = result.Chunks,
                ["ctx"] = ctx,
            }.ToJsonString());
        else
            Console.Out.WriteLine($"perplexity: {result.Perplexity:F4} over {result.ScoredTokens} tokens ({result.Chunks} chunks of {ctx}; the text is {result.Tokens} tokens)");
        return 0;
    }
}
