// One JSON record of a corpus file to a CorpusRecord: {"text": "..."} is a document;
// {"messages": [{"role", "content", "tool_calls"?, "name"?, "tool_call_id"?, "reasoning_content"?}],
// "tools"?: [...]} is a conversation in the OpenAI chat format that Hugging Face chat templates read
// (content may also be a list of {"type": "text", "text"} parts, which are joined). Every error names
// the file, the line and the key, and says what was found instead. Not a renderer: see ChatTokenizer.
using System.Text;
using System.Text.Json;
using EdgeLM.Formats;
using EdgeLM.Templates;

namespace EdgeLM.Training.Data;

static class ConversationJson
{
    public static CorpusRecord ToRecord(JsonElement root, string path, string where)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw Bad(path, where, $"expected an object with \"text\" or \"messages\", found {CorpusReader.Describe(root.ValueKind)}");
        string source = $"{path}:{where.Replace("line ", "", StringComparison.Ordinal)}";
        if (root.TryGetProperty("text", out var text))
        {
            if (text.ValueKind != JsonValueKind.String)
                throw Bad(path, where, $"\"text\" must be a string, found {CorpusReader.Describe(text.ValueKind)}");
            return new CorpusRecord(source, text.GetString()!);
        }
        if (!root.TryGetProperty("messages", out var messages))
            throw Bad(path, where, "no \"text\" or \"messages\" key");
        if (messages.ValueKind != JsonValueKind.Array)
            throw Bad(path, where, $"\"messages\" must be an array, found {CorpusReader.Describe(messages.ValueKind)}");
        if (messages.GetArrayLength() == 0) throw Bad(path, where, "\"messages\" is empty");
        var list = new List<ChatMessage>(messages.GetArrayLength());
        int i = 0;
        foreach (var m in messages.EnumerateArray()) list.Add(ToMessage(m, path, $"{where}, messages[{i++}]"));
        List<JsonElement>? tools = null;
        if (root.TryGetProperty("tools", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (t.ValueKind != JsonValueKind.Array)
                throw Bad(path, where, $"\"tools\" must be an array, found {CorpusReader.Describe(t.ValueKind)}");
            tools = [];
            foreach (var tool in t.EnumerateArray()) tools.Add(tool.Clone()); // outlives the parsed line
        }
        return new CorpusRecord(source, null, list, tools);
    }

    static ChatMessage ToMessage(JsonElement m, string path, string where)
    {
        if (m.ValueKind != JsonValueKind.Object)
            throw Bad(path, where, $"a message must be an object, found {CorpusReader.Describe(m.ValueKind)}");
        string role = RequiredString(m, "role", path, where);
        if (role is not ("system" or "user" or "assistant" or "tool" or "developer"))
            throw Bad(path, where, $"unknown role \"{role}\" (known: system, developer, user, assistant, tool)");
        string? content = Content(m, path, where);
        var calls = ToolCalls(m, path, where);
        if (content is null && calls is null)
            throw Bad(path, where, "no \"content\" (and no \"tool_calls\")");
        return new ChatMessage(role, content, calls,
            OptionalString(m, "name", path, where),
            OptionalString(m, "tool_call_id", path, where),
            OptionalString(m, "reasoning_content", path, where));
    }

    static string? Content(JsonElement m, string path, string where)
    {
        if (!m.TryGetProperty("content", out var c) || c.ValueKind == JsonValueKind.Null) return null;
        if (c.ValueKind == JsonValueKind.String) return c.GetString();
        if (c.ValueKind != JsonValueKind.Array)
            throw Bad(path, where, $"\"content\" must be a string or a list of text parts, found {CorpusReader.Describe(c.ValueKind)}");
        var sb = new StringBuilder();
        foreach (var part in c.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                throw Bad(path, where, "a \"content\" part must be {\"type\": \"text\", \"text\": \"...\"} (images and audio are not supported)");
            sb.Append(t.GetString());
        }
        return sb.ToString();
    }

    static List<ChatToolCall>? ToolCalls(JsonElement m, string path, string where)
    {
        if (!m.TryGetProperty("tool_calls", out var calls) || calls.ValueKind == JsonValueKind.Null) return null;
        if (calls.ValueKind != JsonValueKind.Array)
            throw Bad(path, where, $"\"tool_calls\" must be an array, found {CorpusReader.Describe(calls.ValueKind)}");
        var list = new List<ChatToolCall>();
        int i = 0;
        foreach (var call in calls.EnumerateArray())
        {
            string at = $"{where}.tool_calls[{i++}]";
            if (call.ValueKind != JsonValueKind.Object)
                throw Bad(path, at, $"a tool call must be an object, found {CorpusReader.Describe(call.ValueKind)}");
            // OpenAI nests name and arguments under "function"; some datasets put them at the top.
            var fn = call.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object ? f : call;
            string name = RequiredString(fn, "name", path, at);
            string args = "{}";
            if (fn.TryGetProperty("arguments", out var a))
            {
                args = a.ValueKind switch
                {
                    JsonValueKind.Object => a.GetRawText(),
                    JsonValueKind.String => a.GetString()!,
                    _ => throw Bad(path, at, $"\"arguments\" must be an object or a JSON string, found {CorpusReader.Describe(a.ValueKind)}"),
                };
            }
            list.Add(new ChatToolCall(name, args, OptionalString(call, "id", path, at)));
        }
        return list;
    }

    static string RequiredString(JsonElement o, string key, string path, string where)
    {
        if (!o.TryGetProperty(key, out var v)) throw Bad(path, where, $"no \"{key}\"");
        if (v.ValueKind != JsonValueKind.String)
            throw Bad(path, where, $"\"{key}\" must be a string, found {CorpusReader.Describe(v.ValueKind)}");
        return v.GetString()!;
    }

    static string? OptionalString(JsonElement o, string key, string path, string where)
    {
        if (!o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String)
            throw Bad(path, where, $"\"{key}\" must be a string, found {CorpusReader.Describe(v.ValueKind)}");
        return v.GetString();
    }

    static InvalidModelFileException Bad(string path, string where, string message) => new(path, $"{where}: {message}");
}
