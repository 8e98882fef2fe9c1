// Renders real chat templates (Hugging Face tokenizer_config.json files, a GGUF's
// tokenizer.chat_template, and well-known published templates) over fixed conversations and
// compares with what Python's jinja2 3.1.6 produced under transformers' apply_chat_template
// settings (Golden/generate_golden.py). Each case is one exact string comparison.
using System.Text.Json;
using EdgeLM.Formats.Gguf;
using EdgeLM.Templates;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Templates;

public sealed class ChatTemplateGoldenTests
{
    static string GoldenDir => Path.Combine(TestData.RepoRoot, "tests", "EdgeLM.Tests", "Templates", "Golden");

    public static TheoryData<string> Templates() =>
    [
        "llama3", "llama3.2", "qwen2.5", "qwen3", "smollm2", "phi3", "phi4",
        "gemma2", "gemma3", "mistral-v3", "mistral-nemo", "deepseek-r1",
    ];

    [Theory]
    [MemberData(nameof(Templates))]
    public void Renders_exactly_as_jinja2(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenDir, name + ".golden.json")));
        var root = doc.RootElement;
        string source = File.ReadAllText(Path.Combine(GoldenDir, root.GetProperty("template").GetString()!));
        var now = DateTime.Parse(root.GetProperty("now").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var template = ChatTemplate.Parse(source, new ChatTemplateOptions(
            root.GetProperty("bos_token").GetString()!,
            root.GetProperty("eos_token").GetString()!,
            root.GetProperty("arguments_as_text").GetBoolean(),
            new FixedClock(new DateTimeOffset(now, TimeSpan.Zero))));
        var failures = new List<string>();
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            string caseName = c.GetProperty("name").GetString()!;
            var messages = c.GetProperty("messages").EnumerateArray().Select(ToMessage).ToList();
            var tools = c.GetProperty("tools").ValueKind == JsonValueKind.Array ? c.GetProperty("tools").EnumerateArray().ToList() : null;
            bool gen = c.GetProperty("add_generation_prompt").GetBoolean();
            string actual;
            try
            {
                actual = template.Render(messages, gen, tools: tools);
            }
            catch (ChatTemplateException e)
            {
                if (c.TryGetProperty("error", out var err) && (!e.IsRaised || e.Detail == err.GetString())) continue;
                failures.Add($"{caseName}: threw {e.Message}");
                continue;
            }
            if (c.TryGetProperty("error", out var expectedError))
                failures.Add($"{caseName}: expected error '{expectedError.GetString()}', rendered {actual}");
            else if (actual != c.GetProperty("expected").GetString())
                failures.Add($"{caseName}: first difference at {FirstDiff(actual, c.GetProperty("expected").GetString()!)}\n" +
                             $"  expected: {JsonSerializer.Serialize(c.GetProperty("expected").GetString())}\n  actual:   {JsonSerializer.Serialize(actual)}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Phi3_template_read_from_the_gguf_matches_the_golden_copy()
    {
        using var gguf = GgufFile.Open(TestData.File("tokenizers", "llamacpp", "ggml-vocab-phi-3.gguf"));
        string fromGguf = gguf.GetRequiredString("tokenizer.chat_template");
        Assert.Equal(File.ReadAllText(Path.Combine(GoldenDir, "phi3.jinja")), fromGguf);
        ChatTemplate.Parse(fromGguf); // and it parses
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void Hf_tokenizer_config_templates_match_the_golden_copies(string model)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestData.File("tokenizers", "hf", model, "tokenizer_config.json")));
        Assert.Equal(File.ReadAllText(Path.Combine(GoldenDir, model + ".jinja")), doc.RootElement.GetProperty("chat_template").GetString());
    }

    static int FirstDiff(string a, string b)
    {
        int i = 0;
        while (i < a.Length && i < b.Length && a[i] == b[i]) i++;
        return i;
    }

    /// <summary>The arguments text as a client using Python's json.dumps(ensure_ascii=False) sends
    /// it (what the golden script passed to templates that take arguments as text).</summary>
    static string PythonJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "{" + string.Join(", ", e.EnumerateObject().Select(p => Quote(p.Name) + ": " + PythonJson(p.Value))) + "}",
        JsonValueKind.Array => "[" + string.Join(", ", e.EnumerateArray().Select(PythonJson)) + "]",
        JsonValueKind.String => Quote(e.GetString()!),
        _ => e.GetRawText(),
    };

    static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    static ChatMessage ToMessage(JsonElement m)
    {
        string? Str(string key) => m.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        List<ChatToolCall>? calls = null;
        if (m.TryGetProperty("tool_calls", out var tc))
        {
            calls = [];
            foreach (var c in tc.EnumerateArray())
            {
                var fn = c.GetProperty("function");
                calls.Add(new ChatToolCall(fn.GetProperty("name").GetString()!, PythonJson(fn.GetProperty("arguments")),
                    c.TryGetProperty("id", out var id) ? id.GetString() : null));
            }
        }
        return new ChatMessage(Str("role")!, Str("content"), calls, Str("name"), Str("tool_call_id"), Str("reasoning_content"));
    }
}

/// <summary>A clock stopped at one instant, in UTC, for strftime_now.</summary>
public sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}
