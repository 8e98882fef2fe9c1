// edgelm run [MODEL] [-p PROMPT] [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S] [--threads N]:
// streams the generated text to stdout; with no prompt, generation starts from BOS; with no MODEL,
// the bundled model (Commands.ResolveModel).
using System.CommandLine;
using System.Diagnostics;
using EdgeLM.Inference;

namespace EdgeLM.Cli;

public static class RunCommand
{
    public static Command Create()
    {
        var model = Commands.OptionalModelArgument();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "the prompt (default: start from BOS)" };
        var promptFile = new Option<string?>("--file", "-f") { Description = "read the prompt from a file" };
        var sampling = new SamplingFlags();
        var session = new SessionFlags();
        var command = new Command("run", "Generate text from a prompt") { model, prompt, promptFile };
        sampling.AddTo(command);
        session.AddTo(command);
        command.SetAction((r, ct) => Commands.Guard(async () =>
        {
            string text = r.GetValue(prompt) ?? (r.GetValue(promptFile) is { } f ? await File.ReadAllTextAsync(f, ct) : "");
            return await Run(Commands.ResolveModel(r.GetValue(model)), text, sampling.Read(r), session.Load(r), session.Session(r), ct);
        }));
        return command;
    }

    static async Task<int> Run(string path, string prompt, GenerationOptions gen, LoadOptions load, SessionOptions opts, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        using var model = LanguageModel.Load(path, load);
        double loadSecs = clock.Elapsed.TotalSeconds;
        using var session = model.CreateSession(opts);
        Console.Error.WriteLine($"loaded {model.Config.Architecture} model in {loadSecs:F2}s; context {session.ContextLength}, {session.Threads} threads");
        foreach (var a in model.Decoder.Lora?.Adapters ?? [])
            Console.Error.WriteLine($"LoRA adapter {a.Path}: {a.Adapter.Tensors.Count} matrices, scale {a.Scale}");
        var stdout = Console.Out;
        int pieces = 0;
        bool endsWithNewline = false;
        clock.Restart();
        await foreach (var piece in session.GenerateAsync(prompt, gen, ct))
        {
            stdout.Write(piece);
            stdout.Flush();
            endsWithNewline = piece.EndsWith('\n');
            pieces++;
        }
        if (!endsWithNewline) stdout.WriteLine();
        stdout.Flush();
        double secs = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine($"[{session.Position} tokens in context, {secs:F2}s, stopped: {session.LastStopReason}]");
        return 0;
    }
}
