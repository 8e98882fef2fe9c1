// The conversation a chat template renders: OpenAI-style messages with optional tool calls and
// tool results, and the exception every template failure raises. Data only; rendering lives in
// ChatTemplate.
namespace EdgeLM.Templates;

/// <summary>A tool call made by the assistant: <c>{type: "function", function: {name, arguments}, id}</c>.</summary>
/// <param name="Name">The function name.</param>
/// <param name="ArgumentsJson">The arguments as a JSON object text, e.g. <c>{"city": "Paris"}</c>.</param>
/// <param name="Id">The call id that the tool result refers to (Mistral requires 9 characters).</param>
public sealed record ChatToolCall(string Name, string ArgumentsJson, string? Id = null);

/// <summary>One message of a conversation.</summary>
/// <param name="Role">"system", "user", "assistant" or "tool".</param>
/// <param name="Content">The text; null for an assistant turn that only calls tools.</param>
/// <param name="ToolCalls">The assistant's tool calls, if any.</param>
/// <param name="Name">For a tool result: the tool's name.</param>
/// <param name="ToolCallId">For a tool result: the id of the call it answers.</param>
/// <param name="ReasoningContent">An assistant's separate reasoning text (Qwen3-style templates).</param>
public sealed record ChatMessage(
    string Role,
    string? Content,
    IReadOnlyList<ChatToolCall>? ToolCalls = null,
    string? Name = null,
    string? ToolCallId = null,
    string? ReasoningContent = null);

/// <summary>A template that cannot be parsed, uses something unsupported, or raised an error
/// (raise_exception) while rendering. The message names the construct and, where known, the
/// line and column.</summary>
public sealed class ChatTemplateException : Exception
{
    public ChatTemplateException() : this("chat template error") { }

    public ChatTemplateException(string message) : base(message) => Detail = message;

    public ChatTemplateException(string message, Exception inner) : base(message, inner) => Detail = message;

    internal ChatTemplateException(string detail, SourcePos? position, bool isRaised = false)
        : base(position is null ? detail : $"{detail} (at {position})")
    {
        Detail = detail;
        Position = position;
        IsRaised = isRaised;
    }

    /// <summary>The error without its position.</summary>
    public string Detail { get; }

    /// <summary>Where in the template the error is, when known.</summary>
    public SourcePos? Position { get; }

    /// <summary>True when the template itself called raise_exception (the conversation is not one
    /// the template accepts, e.g. a system message for Gemma 2), rather than the template being
    /// unsupported.</summary>
    public bool IsRaised { get; }
}
