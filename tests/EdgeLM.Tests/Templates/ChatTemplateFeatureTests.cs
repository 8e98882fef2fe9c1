// The interpreter one construct at a time. Each case in Golden/features.golden.json is a small
// template and its variables, rendered by Python's jinja2 3.1.6 with transformers' settings
// (generate_golden.py); here the same template must render identically, or fail where jinja2
// failed. Then the behaviour that has no jinja2 oracle: error messages with positions, the
// unsupported-construct messages, and the built-in fallbacks.
using System.Text.Json;
using EdgeLM.Templates;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Templates;

public sealed class ChatTemplateFeatureTests
{
    static readonly Lazy<JsonDocument> Features = new(() => JsonDocument.Parse(File.ReadAllText(
        Path.Combine(TestData.RepoRoot, "tests", "EdgeLM.Tests", "Templates", "Golden", "features.golden.json"))));

    public static TheoryData<string> FeatureNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Features.Value.RootElement.GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(FeatureNames))]
    public void Feature_renders_as_jinja2(string name)
    {
        var root = Features.Value.RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var now = DateTime.Parse(root.GetProperty("now").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var template = ChatTemplate.Parse(c.GetProperty("template").GetString()!,
            new ChatTemplateOptions(Clock: new FixedClock(new DateTimeOffset(now, TimeSpan.Zero))));
        var extra = c.GetProperty("variables").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        if (c.TryGetProperty("error", out var error))
        {
            var e = Assert.Throws<ChatTemplateException>(() => template.Render([], false, extra));
            if (error.GetString()!.StartsWith("TemplateError: ", StringComparison.Ordinal))
                Assert.Equal(error.GetString()!["TemplateError: ".Length..], e.Detail);
            return;
        }
        Assert.Equal(c.GetProperty("expected").GetString(), template.Render([], false, extra));
    }

    [Theory]
    [InlineData("{% if x %}\n  a\n{% endfi %}", "unsupported template tag '{% endfi %}'", 3, 1)]
    [InlineData("line1\n{{ 'a' + }}", "expected an expression, found end of tag", 2, 10)]
    [InlineData("{% for x in y %}\n{{ x }}", "missing '{% endfor %}'", 1, 1)]
    [InlineData("ok\n\n  {{ 'abc }}", "unterminated string literal", 3, 6)]
    [InlineData("{{ x | frobnicate }}", "unsupported filter 'frobnicate'", 1, 6)]
    [InlineData("{% include 'x.j2' %}", "unsupported template tag '{% include %}'", 1, 1)]
    public void Errors_name_the_construct_and_position(string source, string detail, int line, int column)
    {
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(source).Render([], false, new Dictionary<string, object?> { ["x"] = 1 }));
        Assert.Contains(detail, e.Message, StringComparison.Ordinal);
        Assert.Equal(new SourcePos(line, column), e.Position);
    }

    [Fact]
    public void Raise_exception_is_marked_as_raised_by_the_template()
    {
        var t = ChatTemplate.Parse("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}");
        var e = Assert.Throws<ChatTemplateException>(() => t.Render([new ChatMessage("system", "s")], true));
        Assert.True(e.IsRaised);
        Assert.Equal("System role not supported", e.Detail);
        Assert.Equal(new SourcePos(1, 56), e.Position); // the call's opening parenthesis
    }

    [Fact]
    public void Unknown_function_is_reported_by_name()
    {
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ cycler(1) }}").Render([], false));
        Assert.Contains("'cycler' is undefined", e.Message, StringComparison.Ordinal);
        Assert.False(e.IsRaised);
    }

    static readonly ChatMessage[] Conversation =
    [
        new("system", "Be brief."),
        new("user", "Hi"),
        new("assistant", " Hello "),
        new("user", "Bye"),
    ];

    [Fact]
    public void Chatml_fallback_matches_the_chatml_template()
    {
        const string chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
        foreach (bool gen in new[] { true, false })
            Assert.Equal(ChatTemplate.Parse(chatml).Render(Conversation, gen), ChatTemplate.Fallback("chatml").Render(Conversation, gen));
    }

    [Fact]
    public void Llama3_fallback_matches_the_llama3_template()
    {
        string source = File.ReadAllText(Path.Combine(TestData.RepoRoot, "tests", "EdgeLM.Tests", "Templates", "Golden", "llama3.jinja"));
        var options = new ChatTemplateOptions("<|begin_of_text|>", "<|eot_id|>");
        // That template always ends with the assistant header, so compare with the prompt added.
        Assert.Equal(ChatTemplate.Parse(source, options).Render(Conversation, true), ChatTemplate.Fallback("llama3", options).Render(Conversation, true));
    }

    [Fact]
    public void Parse_or_fallback_reports_why_it_fell_back()
    {
        var t = ChatTemplate.ParseOrFallback("{% include 'x' %}", "chatml", null, out string? error);
        Assert.Contains("include", error, StringComparison.Ordinal);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n", t.Render([new ChatMessage("user", "Hi")], false));
        ChatTemplate.ParseOrFallback(null, "chatml", null, out error);
        Assert.Equal("the model has no chat template", error);
        Assert.Throws<ArgumentException>(() => ChatTemplate.Fallback("vicuna"));
    }
}
