// edgelm train --data PATH --out DIR [--config FILE.json] [--resume] [model, tokenizer and
// optimisation flags]: trains a new model from scratch into a run folder (model.gguf, checkpoints/,
// metrics.csv, loss.png, config.json). Every setting is also a key of the --config file (the flag
// name without dashes); flags override the file, and on --resume both override the run folder's
// config.json. Progress goes to stderr; stdout gets one summary line. Ctrl+C saves a checkpoint and
// exits with 130. Not the training loop: see EdgeLM.Training.Run.TrainingRun.
using System.CommandLine;
using System.Text.Json.Nodes;
using EdgeLM.Training.Run;

namespace EdgeLM.Cli;

public sealed class TrainFlags
{
    // Each flag's RunConfig JSON key, and its value as a JSON node when given on the command line.
    readonly List<(Option Option, string Key, Func<ParseResult, JsonNode?> Value)> _settings = [];

    public TrainFlags()
    {
        Str("--data", "a UTF-8 text file, or a folder of .txt/.md files (one document each)");
        Str("--out", "the run folder (model.gguf, checkpoints, metrics.csv, loss.png, config.json)");
        Str("--arch", "architecture: llama, qwen2 or qwen3 (default llama)");
        Int("--layers", "decoder blocks (default 2)");
        Int("--dim", "embedding width (default 64)");
        Int("--heads", "attention heads (default 4)");
        Int("--kv-heads", "key/value heads (default: --heads)");
        Int("--head-dim", "width of one head (default: dim / heads)");
        Int("--ffn", "feed-forward width (default: 8/3 dim rounded up to 32)");
        Int("--ctx", "context length = training window (default 128)");
        Str("--tokenizer", "byte (default), train (a BPE of --vocab ids trained on the data), or a tokenizer file or folder");
        Int("--vocab", "vocabulary size of a tokenizer trained on the data");
        Int("--steps", "optimizer steps (default 1000)");
        Int("--batch", "windows per micro-batch (default 8)");
        Int("--grad-accum", "micro-batches per step (default 1)");
        Float("--lr", "peak learning rate (default 1e-3)");
        Float("--min-lr", "final learning rate of the cosine (default lr / 10)");
        Int("--warmup", "linear warm-up steps (default 20)");
        Float("--weight-decay", "AdamW decoupled weight decay of matrices (default 0.1)");
        Float("--grad-clip", "maximum global gradient norm, 0 = off (default 1)");
        Int("--seed", "initialisation and batch seed (default 1)");
        Int("--threads", "worker threads (default: one per core)");
        Float("--val-fraction", "last fraction of the tokens held out for validation (default 0.1)");
        Int("--eval-every", "steps between validation evaluations (default 100)");
        Int("--eval-batches", "batches per validation evaluation (default 8)");
        Int("--save-every", "steps between checkpoints (default 100)");
        Int("--keep", "checkpoints kept (default 2)");
        Str("--type", "tensor type of the exported model.gguf: F32 (default), F16, Q8_0, ...");
        _settings.Add((Tied, "tied", r => r.GetValue(Tied) ? JsonValue.Create(true) : null));
        _settings.Add((NoTied, "tied", r => r.GetValue(NoTied) ? JsonValue.Create(false) : null));
    }

    public Option<string?> Config { get; } = new("--config") { Description = "a JSON file of settings (keys = flag names without dashes)" };
    public Option<bool> Resume { get; } = new("--resume") { Description = "continue the run in --out from its newest checkpoint" };
    public Option<bool> Tied { get; } = new("--tied") { Description = "share the token embedding with the output head (default)" };
    public Option<bool> NoTied { get; } = new("--no-tied") { Description = "a separate output head" };

    void Str(string name, string description) => Add(new Option<string?>(name) { Description = description }, v => v is null ? null : JsonValue.Create(v));
    void Int(string name, string description) => Add(new Option<int?>(name) { Description = description }, v => v is int i ? JsonValue.Create(i) : null);
    void Float(string name, string description) => Add(new Option<double?>(name) { Description = description }, v => v is double d ? JsonValue.Create(d) : null);

    void Add<T>(Option<T> option, Func<T?, JsonNode?> toJson) => _settings.Add((option, option.Name.TrimStart('-'), r => r.GetResult(option) is null ? null : toJson(r.GetValue(option))));

    public Command Command()
    {
        var c = new Command("train", "Train a new model from scratch into a run folder") { Config, Resume };
        foreach (var (o, _, _) in _settings) c.Options.Add(o);
        return c;
    }

    /// <summary>The effective settings: the run folder's config.json (on --resume), then the --config file, then the flags.</summary>
    public RunConfig Read(ParseResult r)
    {
        if (r.GetValue(Tied) && r.GetValue(NoTied)) throw new ArgumentException("--tied and --no-tied contradict each other");
        var flags = new JsonObject();
        foreach (var (_, key, value) in _settings)
            if (value(r) is JsonNode v) flags[key] = v;
        string? file = r.GetValue(Config);
        var fromFile = file is null ? new JsonObject() : RunConfig.ReadObject(file);
        var merged = new JsonObject();
        string? outDir = (string?)flags["out"] ?? (string?)fromFile["out"];
        if (r.GetValue(Resume))
        {
            if (outDir is null) throw new ArgumentException("--resume needs --out: the run folder to continue");
            Merge(merged, RunConfig.ReadObject(Path.Combine(outDir, TrainingRun.ConfigName)));
        }
        Merge(merged, fromFile);
        Merge(merged, flags);
        return RunConfig.FromJson(merged, file ?? "the command line");
    }

    static void Merge(JsonObject into, JsonObject from)
    {
        foreach (var (k, v) in from) into[k] = v?.DeepClone();
    }
}

public static class TrainCommand
{
    public static Command Create()
    {
        var flags = new TrainFlags();
        var command = flags.Command();
        command.SetAction((r, ct) => Commands.Guard(() => Task.FromResult(Run(flags.Read(r), r.GetValue(flags.Resume), ct))));
        return command;
    }

    static int Run(RunConfig config, bool resume, CancellationToken ct)
    {
        config.Validate();
        string png = Path.Combine(config.Out!, LossPlot.FileName);
        var line = new ProgressLine("step", "steps");
        var hooks = new RunHooks
        {
            Log = m => Console.Error.WriteLine(m),
            Evaluated = rows => LossPlot.Save(png, rows),
            Progress = p => line.Report(p.Step, p.Steps,
                $"loss {p.TrainLoss:F4} val {(float.IsNaN(p.ValLoss) ? "-" : p.ValLoss.ToString("F4", System.Globalization.CultureInfo.InvariantCulture))} " +
                $"{p.TokensPerSecond:F0} tok/s {p.SecondsLeft:F0}s left"),
        };
        var result = TrainingRun.Run(config, resume, hooks, ct);
        Console.Error.WriteLine($"wrote {result.ModelPath} ({InfoCommand.Human(new FileInfo(result.ModelPath).Length)})");
        Console.WriteLine($"trained {result.Steps} steps: validation loss {result.ValidationLoss:F4} (perplexity {Math.Exp(result.ValidationLoss):F2}) -> {config.Out}");
        return 0;
    }
}
