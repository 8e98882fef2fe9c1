// edgelm chat [MODEL]: an interactive conversation on stdin/stdout, rendered with the model's own
// chat template (Jinja, from GGUF tokenizer.chat_template or tokenizer_config.json). A model without
// one gets plain "User:/Assistant:" turns. Only the new part of each rendered conversation is fed to
// the model: the KV cache keeps the rest. Commands: /reset forgets the conversation, /exit ends.
using System.CommandLine;
using System.Text;
using EdgeLM.Inference;
using EdgeLM.Templates;

namespace EdgeLM.Cli;

public static class ChatCommand
{
    const string PlainTemplate =
        "{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}\n\n{% elif m.role == 'user' %}User: {{ m.content }}\n{% else %}Assistant: {{ m.content }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}";

    public static Command Create()
    {
        var model = Commands.OptionalModelArgument();
        var system = new Option<string?>("--system") { Description = "a system prompt" };
        var verbosePrompt = new Option<bool>("--verbose-prompt") { Description = "print each rendered prompt to stderr" };
        var sampling = new SamplingFlags();
        var session = new SessionFlags();
        var command = new Command("chat", "Chat with a model, using its chat template") { model, system, verbosePrompt };
        sampling.AddTo(command);
        session.AddTo(command);
        command.SetAction((r, ct) => Commands.Guard(() => Run(Commands.ResolveModel(r.GetValue(model)), r.GetValue(system), r.GetValue(verbosePrompt), sampling.Read(r), session.Load(r), session.Session(r), ct)));
        return command;
    }

    static async Task<int> Run(string path, string? systemPrompt, bool verbosePrompt, GenerationOptions gen, LoadOptions load, SessionOptions opts, CancellationToken ct)
    {
        using var model = LanguageModel.Load(path, load);
        using var session = model.CreateSession(opts);
        var tok = model.Tokenizer;
        string bos = tok.BosId >= 0 ? tok.TokenText(tok.BosId) : "";
        string eos = tok.EosId >= 0 ? tok.TokenText(tok.EosId) : "";
        var options = new ChatTemplateOptions(bos, eos);
        bool plain = string.IsNullOrEmpty(model.ChatTemplate);
        string? error = null;
        var template = plain ? ChatTemplate.Parse(PlainTemplate, options)
            : ChatTemplate.ParseOrFallback(model.ChatTemplate, "chatml", options, out error);
        if (error is not null) Console.Error.WriteLine($"the model's chat template cannot be used ({error}); using ChatML");
        if (plain) Console.Error.WriteLine("the model has no chat template; using plain User:/Assistant: turns");
        Console.Error.WriteLine("type a message; /reset starts over, /exit (or end of input) quits");

        var history = new List<ChatMessage>();
        if (!string.IsNullOrEmpty(systemPrompt)) history.Add(new ChatMessage("system", systemPrompt));
        var stdin = Console.In;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (!Console.IsInputRedirected) Console.Error.Write("> ");
            string? line = await stdin.ReadLineAsync(ct);
            if (line is null || line.Trim() == "/exit") break;
            if (line.Trim() == "/reset")
            {
                history.RemoveAll(m => m.Role != "system");
                session.Reset();
                continue;
            }
            if (line.Length == 0) continue;
            history.Add(new ChatMessage("user", line));
            string prompt = template.Render(history, addGenerationPrompt: true);
            if (verbosePrompt) Console.Error.WriteLine($"--- prompt ---\n{prompt}\n--- end of prompt ---");
            var ids = tok.Encode(prompt, addBos: tok.AddBos && tok.BosId >= 0 && !prompt.StartsWith(bos, StringComparison.Ordinal), parseSpecial: true);
            // Feed only what the cache does not hold yet; start over if the template rewrote history.
            int common = 0;
            var held = session.Tokens;
            while (common < held.Length && common < ids.Length && held[common] == ids[common]) common++;
            if (common < held.Length || common == ids.Length)
            {
                session.Reset();
                common = 0;
            }
            var reply = new StringBuilder();
            var stops = plain ? gen with { Stop = [.. gen.Stop, "\nUser:"] } : gen;
            await foreach (var piece in session.GenerateAsync(ids.AsMemory(common), stops, ct))
            {
                Console.Out.Write(piece);
                Console.Out.Flush();
                reply.Append(piece);
            }
            Console.Out.WriteLine();
            history.Add(new ChatMessage("assistant", reply.ToString().Trim()));
        }
        return 0;
    }
}
