// Renders a conversation into a prompt with a model's chat template, as Hugging Face transformers'
// apply_chat_template does: the template sees messages, tools (none when absent), documents (none),
// add_generation_prompt, bos_token, eos_token, raise_exception, strftime_now, plus any extra
// variables. Parse once, render many times; a ChatTemplate is immutable and thread-safe.
// Not a general Jinja engine: see JinjaParser for the supported subset.
using System.Text.Json;

namespace EdgeLM.Templates;

/// <summary>How a template is rendered.</summary>
/// <param name="BosToken">Rendered for <c>bos_token</c>.</param>
/// <param name="EosToken">Rendered for <c>eos_token</c>.</param>
/// <param name="ToolArgumentsAsText">Pass tool-call arguments as JSON text instead of a mapping.
/// Most templates (Qwen, Llama 3.x, Mistral) expect a mapping and apply tojson; a few (DeepSeek R1)
/// concatenate the arguments as a string.</param>
/// <param name="Clock">The clock behind <c>strftime_now</c> (Llama 3.x prints today's date);
/// null is the system clock.</param>
public sealed record ChatTemplateOptions(
    string BosToken = "",
    string EosToken = "",
    bool ToolArgumentsAsText = false,
    TimeProvider? Clock = null);

/// <summary>A parsed chat template.</summary>
public sealed class ChatTemplate
{
    readonly IReadOnlyList<Stmt>? _body;
    readonly Func<IReadOnlyList<ChatMessage>, bool, string>? _builtin;

    ChatTemplate(string source, IReadOnlyList<Stmt>? body, Func<IReadOnlyList<ChatMessage>, bool, string>? builtin)
    {
        Source = source;
        _body = body;
        _builtin = builtin;
    }

    /// <summary>The template text (empty for a built-in fallback).</summary>
    public string Source { get; }

    /// <summary>Tokens, tool-argument form and clock this template renders with.</summary>
    public ChatTemplateOptions Options { get; private init; } = new();

    /// <summary>Parses a template; a syntax error or unsupported tag throws
    /// <see cref="ChatTemplateException"/> naming the construct, line and column.</summary>
    public static ChatTemplate Parse(string source, ChatTemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source, JinjaParser.Parse(source), null) { Options = options ?? new() };
    }

    /// <summary>A built-in renderer for a model without a usable template: "chatml"
    /// (<c>&lt;|im_start|&gt;role\n…&lt;|im_end|&gt;\n</c>) or "llama3"
    /// (<c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\n…&lt;|eot_id|&gt;</c>).</summary>
    public static ChatTemplate Fallback(string name, ChatTemplateOptions? options = null)
    {
        options ??= new();
        return name switch
        {
            "chatml" => new ChatTemplate("", null, RenderChatMl) { Options = options },
            "llama3" => new ChatTemplate("", null, (m, g) => options.BosToken + RenderLlama3(m, g)) { Options = options },
            _ => throw new ArgumentException($"unknown fallback chat format '{name}' (known: chatml, llama3)", nameof(name)),
        };
    }

    /// <summary>Parses <paramref name="source"/> if there is one and it parses; otherwise the
    /// <paramref name="fallback"/> format. <paramref name="error"/> says why the fallback was used.</summary>
    public static ChatTemplate ParseOrFallback(string? source, string fallback, ChatTemplateOptions? options, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(source)) error = "the model has no chat template";
        else
        {
            try { return Parse(source, options); }
            catch (ChatTemplateException e) { error = e.Message; }
        }
        return Fallback(fallback, options);
    }

    /// <summary>Renders the conversation. <paramref name="tools"/> are JSON-schema tool
    /// definitions (<c>{"type": "function", "function": {...}}</c>); <paramref name="extra"/>
    /// adds or overrides template variables (e.g. enable_thinking); values may be null, string,
    /// bool, numbers, JsonElement, lists and string-keyed dictionaries of those.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt,
        IReadOnlyDictionary<string, object?>? extra = null, IReadOnlyList<JsonElement>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (_builtin is not null) return _builtin(messages, addGenerationPrompt);
        var globals = new Dictionary<string, JinjaValue>(StringComparer.Ordinal)
        {
            ["messages"] = JinjaValue.Of(messages.Select(ToValue).ToList()),
            ["tools"] = tools is null ? JinjaValue.None : JinjaValue.Of(tools.Select(t => JinjaConvert.FromObject(t)).ToList()),
            ["documents"] = JinjaValue.None,
            ["add_generation_prompt"] = JinjaValue.Of(addGenerationPrompt),
            ["bos_token"] = JinjaValue.Of(Options.BosToken),
            ["eos_token"] = JinjaValue.Of(Options.EosToken),
        };
        foreach (var (k, v) in JinjaGlobals.Functions(Options.Clock ?? TimeProvider.System)) globals[k] = v;
        if (extra is not null)
            foreach (var (k, v) in extra) globals[k] = JinjaConvert.FromObject(v);
        return new JinjaEvaluator(globals).Render(_body!);
    }

    /// <summary>The dictionary a template sees for a message: role and content always, the other
    /// keys only when set (templates test <c>'tool_calls' in message</c>).</summary>
    JinjaValue ToValue(ChatMessage m)
    {
        var d = new JinjaDict();
        d.Set("role", JinjaValue.Of(m.Role));
        d.Set("content", JinjaValue.Of(m.Content));
        if (m.ToolCalls is not null)
        {
            var calls = new List<JinjaValue>(m.ToolCalls.Count);
            foreach (var c in m.ToolCalls)
            {
                var fn = new JinjaDict();
                fn.Set("name", JinjaValue.Of(c.Name));
                fn.Set("arguments", Options.ToolArgumentsAsText ? JinjaValue.Of(c.ArgumentsJson) : JinjaConvert.FromJson(c.ArgumentsJson));
                var call = new JinjaDict();
                call.Set("type", JinjaValue.Of("function"));
                call.Set("function", JinjaValue.Of(fn));
                if (c.Id is not null) call.Set("id", JinjaValue.Of(c.Id));
                calls.Add(JinjaValue.Of(call));
            }
            d.Set("tool_calls", JinjaValue.Of(calls));
        }
        if (m.Name is not null) d.Set("name", JinjaValue.Of(m.Name));
        if (m.ToolCallId is not null) d.Set("tool_call_id", JinjaValue.Of(m.ToolCallId));
        if (m.ReasoningContent is not null) d.Set("reasoning_content", JinjaValue.Of(m.ReasoningContent));
        return JinjaValue.Of(d);
    }

    static string RenderChatMl(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var m in messages) sb.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
        if (addGenerationPrompt) sb.Append("<|im_start|>assistant\n");
        return sb.ToString();
    }

    static string RenderLlama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var m in messages)
            sb.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append((m.Content ?? "").Trim()).Append("<|eot_id|>");
        if (addGenerationPrompt) sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        return sb.ToString();
    }
}
