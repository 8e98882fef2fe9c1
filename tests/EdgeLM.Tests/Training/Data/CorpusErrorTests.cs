// Bad input gives an error that names the file and line and says what is wrong, or, when lenient,
// is skipped and counted; never a crash.
using EdgeLM.Formats;
using EdgeLM.Tests.Support;
using EdgeLM.Training.Data;

namespace EdgeLM.Tests.Training.Data;

public sealed class CorpusErrorTests
{
    static readonly ByteCorpusTokenizer Bytes = new();

    static string Fail(string fileName, byte[] content)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File(fileName), content);
        var e = Assert.Throws<InvalidModelFileException>(() => TrainingCorpus.Load([dir.File(fileName)], Bytes));
        Assert.StartsWith(dir.File(fileName), e.Message, StringComparison.Ordinal);
        return e.Message;
    }

    static string Fail(string fileName, string content) => Fail(fileName, System.Text.Encoding.UTF8.GetBytes(content));

    const string Good = "{\"text\": \"fine\"}\n";

    [Theory]
    [InlineData(Good + "{\"text\": \"broken\"\n", "line 2, column", "malformed JSON")]
    [InlineData(Good + Good + "[1, 2]\n", "line 3", "expected an object")]
    [InlineData(Good + "{\"body\": \"x\"}\n", "line 2", "no \"text\" or \"messages\"")]
    [InlineData(Good + "{\"text\": 42}\n", "line 2", "\"text\" must be a string, found a number")]
    [InlineData("{\"messages\": {}}\n", "line 1", "\"messages\" must be an array, found an object")]
    [InlineData("{\"messages\": []}\n", "line 1", "\"messages\" is empty")]
    [InlineData("{\"messages\": [{\"content\": \"x\"}]}\n", "line 1, messages[0]", "no \"role\"")]
    [InlineData("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n", "line 1, messages[0]", "unknown role \"robot\"")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}\n", "line 1, messages[0]", "\"content\" must be a string")]
    [InlineData("{\"messages\": [{\"role\": \"user\"}]}\n", "line 1, messages[0]", "no \"content\"")]
    [InlineData("{\"text\": \"\"}\n", ":1", "\"text\" is empty")]
    [InlineData("\n\n", "", "empty file")]
    public void Bad_jsonl_names_file_line_and_problem(string content, string where, string what)
    {
        string message = Fail("bad.jsonl", content);
        Assert.Contains(where, message, StringComparison.Ordinal);
        Assert.Contains(what, message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_names_line_and_offset()
    {
        byte[] bytes = [.. "line one\nline two "u8, 0xC3, 0x28, .. "\n"u8];
        string message = Fail("bad.txt", bytes);
        Assert.Contains("line 2: not valid UTF-8 at byte offset 18 (0xC3)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_text_file_and_conversation_without_template_are_errors()
    {
        Assert.Contains("empty file", Fail("e.txt", ""), StringComparison.Ordinal);
        string m = Fail("c.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n");
        Assert.Contains("c.jsonl:1", m, StringComparison.Ordinal);
        Assert.Contains("needs a chat template", m, StringComparison.Ordinal);
    }

    [Fact]
    public void A_conversation_without_an_assistant_turn_or_that_the_template_rejects_is_an_error()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("c.jsonl"), "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
        var options = new CorpusOptions(ChatTemplate: EdgeLM.Templates.ChatTemplate.Fallback("chatml"));
        var e = Assert.Throws<InvalidModelFileException>(() => TrainingCorpus.Load([dir.Path], Bytes, options));
        Assert.Contains("c.jsonl:1: the conversation has no assistant message", e.Message, StringComparison.Ordinal);

        File.WriteAllText(dir.File("c.jsonl"), "{\"messages\": [{\"role\": \"assistant\", \"content\": \"yo\"}]}\n");
        var raising = options with { ChatTemplate = EdgeLM.Templates.ChatTemplate.Parse("{{ raise_exception('roles must alternate') }}") };
        e = Assert.Throws<InvalidModelFileException>(() => TrainingCorpus.Load([dir.Path], Bytes, raising));
        Assert.Contains("roles must alternate", e.Message, StringComparison.Ordinal);

        File.WriteAllText(dir.File("c.jsonl"), "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n");
        var usersOnly = options with { ChatTemplate = EdgeLM.Templates.ChatTemplate.Parse("{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% endif %}{% endfor %}") };
        e = Assert.Throws<InvalidModelFileException>(() => TrainingCorpus.Load([dir.Path], Bytes, usersOnly));
        Assert.Contains("c.jsonl:1: messages[1]: the chat template renders nothing for this assistant turn", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lenient_skips_bad_records_and_files_and_counts_them()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.jsonl"), Good + "{oops\n" + "{\"text\": 1}\n" + Good);
        File.WriteAllBytes(dir.File("b.txt"), [0xFF]);
        File.WriteAllText(dir.File("c.txt"), "");
        var (train, _, stats) = TrainingCorpus.Load([dir.Path], Bytes, new CorpusOptions(ValidationFraction: 0, Lenient: true));
        Assert.Equal(4, stats.BadRecords);
        Assert.Equal(2, stats.Documents);
        Assert.Equal([.. CorpusFormatTests.Doc("fine"), .. CorpusFormatTests.Doc("fine")], train.Tokens);
        Assert.Contains(stats.Warnings, w => w.Contains("a.jsonl: line 2", StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_path_unknown_explicit_file_and_nothing_usable_are_errors()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => TrainingCorpus.Load([dir.File("none.txt")], Bytes));
        File.WriteAllText(dir.File("x.csv"), "a,b");
        Assert.Contains("not a corpus file", Assert.Throws<InvalidModelFileException>(() => TrainingCorpus.Load([dir.File("x.csv")], Bytes)).Message, StringComparison.Ordinal);
        Assert.Contains("no document", Assert.Throws<InvalidModelFileException>(() => TrainingCorpus.Load([dir.Path], Bytes)).Message, StringComparison.Ordinal);
    }
}
