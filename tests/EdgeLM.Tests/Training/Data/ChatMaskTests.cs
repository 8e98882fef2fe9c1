// The loss mask on real chat templates and vocabularies: Qwen2.5's template (the Golden copy, with
// the Qwen2/3 tokenizer.json, whose vocabularies agree), Llama 3's tokenizer_config.json template
// with its tokenizer, and Qwen3's, which rewrites earlier turns. The oracle is the conversation
// itself: decoding the masked tokens must give back exactly each assistant content followed by the
// model's end-of-turn token, and decoding all tokens must give the template's rendering.
using EdgeLM.Templates;
using EdgeLM.Tests.Support;
using EdgeLM.Training.Data;

namespace EdgeLM.Tests.Training.Data;

public sealed class ChatMaskTests
{
    static readonly Lazy<CorpusTokenizer> Qwen = new(() => CorpusTokenizer.Load(TestData.File("tokenizers", "hf", "qwen3")));
    static readonly Lazy<CorpusTokenizer> Llama3 = new(() => CorpusTokenizer.Load(TestData.File("tokenizers", "hf", "llama3")));

    static string GoldenTemplate(string name) =>
        File.ReadAllText(Path.Combine(TestData.RepoRoot, "tests", "EdgeLM.Tests", "Templates", "Golden", name + ".jinja"));

    const string TwoTurns =
        """
        {"messages": [
          {"role": "system", "content": "You answer briefly."},
          {"role": "user", "content": "What is 2+2?"},
          {"role": "assistant", "content": "It is 4.\nAnything else?"},
          {"role": "user", "content": "Name a <b>colour</b> (not <|im_end|> text)."},
          {"role": "assistant", "content": "Blue — and 緑 too."}
        ]}
        """;

    static CorpusRecord Record(string json)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("c.jsonl"), json.ReplaceLineEndings(" ") + "\n");
        var records = new List<CorpusRecord>();
        CorpusReader.ReadFile(dir.File("c.jsonl"), lenient: false, new CorpusStats(), records.Add);
        return Assert.Single(records);
    }

    static List<string> MaskedRuns(int[] tokens, bool[] mask, ICorpusTokenizer tok) =>
        CorpusFormatTests.MaskedRuns(new EdgeLM.Training.TokenSequence(tokens, mask), tok);

    [Fact]
    public void Qwen25_mask_is_exactly_the_assistant_contents_and_im_end()
    {
        var template = ChatTemplate.Parse(GoldenTemplate("qwen2.5"));
        var record = Record(TwoTurns);
        var (tokens, mask) = ChatTokenizer.Tokenize(record, template, Qwen.Value);
        Assert.Equal(["It is 4.\nAnything else?<|im_end|>", "Blue — and 緑 too.<|im_end|>"], MaskedRuns(tokens, mask, Qwen.Value));
        Assert.Equal(template.Render(record.Messages!, false), Qwen.Value.Decode(tokens));
        // The user's literal "<|im_end|>" is rendered inside the prompt and never masked.
        Assert.Equal(2, tokens.Where((t, i) => mask[i] && Qwen.Value.IsEndOfTurn(t)).Count());
    }

    [Fact]
    public void Llama3_mask_is_exactly_the_trimmed_contents_and_eot_id_and_bos_is_not_doubled()
    {
        var tok = Llama3.Value;
        Assert.NotNull(tok.Template); // read from tokenizer_config.json beside tokenizer.json
        var record = Record(TwoTurns.Replace("Blue", "  Blue", StringComparison.Ordinal));
        var (tokens, mask) = ChatTokenizer.Tokenize(record, tok.Template!, tok);
        // This template trims contents and ends every rendering with an assistant header.
        Assert.Equal(["It is 4.\nAnything else?<|eot_id|>", "Blue — and 緑 too.<|eot_id|>"], MaskedRuns(tokens, mask, tok));
        Assert.Equal(tok.Tokenizer.BosId, tokens[0]);
        Assert.NotEqual(tok.Tokenizer.BosId, tokens[1]);
        Assert.Equal(tok.Template!.Render(record.Messages!, false), tok.Decode(tokens));
    }

    [Fact]
    public void Qwen3_earlier_turn_is_found_although_the_template_drops_its_think_block()
    {
        var tok = Qwen.Value;
        var template = tok.Template!; // Qwen3's own, from tokenizer_config.json
        var record = Record(TwoTurns);
        var (tokens, mask) = ChatTokenizer.Tokenize(record, template, tok);
        // Qwen3 shows an empty think block on the last turn only (what the model generates there).
        Assert.Equal(["It is 4.\nAnything else?<|im_end|>", "<think>\n\n</think>\n\nBlue — and 緑 too.<|im_end|>"], MaskedRuns(tokens, mask, tok));
        Assert.Equal(template.Render(record.Messages!, false), tok.Decode(tokens));
    }

    [Fact]
    public void Qwen25_tool_call_turn_is_masked_as_the_model_would_write_it()
    {
        var template = ChatTemplate.Parse(GoldenTemplate("qwen2.5"));
        var record = Record(
            """
            {"tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
             "messages": [
              {"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "weather", "arguments": {"city": "Paris"}}}]},
              {"role": "tool", "name": "weather", "content": "18 C"},
              {"role": "assistant", "content": "18 °C in Paris."}
            ]}
            """);
        var (tokens, mask) = ChatTokenizer.Tokenize(record, template, Qwen.Value);
        Assert.Equal(
            ["<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>", "18 °C in Paris.<|im_end|>"],
            MaskedRuns(tokens, mask, Qwen.Value));
    }

    [Fact]
    public void Packed_chat_corpus_keeps_the_mask_and_puts_no_loss_on_prompts()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("chat.jsonl"), TwoTurns.ReplaceLineEndings(" ") + "\n" + TwoTurns.ReplaceLineEndings(" ").Replace("4.", "four.", StringComparison.Ordinal) + "\n");
        var options = new CorpusOptions(ValidationFraction: 0, ChatTemplate: ChatTemplate.Parse(GoldenTemplate("qwen2.5")));
        var (train, _, stats) = TrainingCorpus.Load([dir.Path], Qwen.Value, options);
        Assert.Equal(2, stats.Conversations);
        var runs = CorpusFormatTests.MaskedRuns(train, Qwen.Value);
        Assert.Equal(4, runs.Count);
        Assert.Equal("It is four.\nAnything else?<|im_end|>", runs[2]);
        Assert.True(stats.MaskedTrainTokens < train.Length / 2, $"{stats.MaskedTrainTokens} of {train.Length} in the loss");
    }
}
