// A conversation to token ids and a loss mask that is true exactly on what the assistant says: each
// assistant turn's content (tool calls and reasoning as the template renders them) and its
// end-of-turn token(s); false on system, user and tool text and on template scaffolding.
//
// The rule. The training text is the whole conversation rendered once with the chat template
// (add_generation_prompt false), tokenized with special-token parsing on, with BOS put first when
// the tokenizer adds one and the template did not. For assistant message i, let G = the rendering
// of messages[..i] with the generation prompt and A = the rendering of messages[..i+1]:
//  1. When G is a prefix of A and A of the whole text (the template renders earlier turns the same
//     whatever follows, as Llama 3, Qwen2.5, Mistral and ChatML do), the turn is the text between
//     G and A: exactly what the model would generate after the prompt G.
//  2. Otherwise (the template rewrites a turn once later ones follow: Qwen3 drops an earlier turn's
//     <think> block; some Llama 3 copies append an assistant header whatever the flag), the turn's
//     own delta D = A minus G is rendered as text; the turn starts in the whole text where the
//     longest tail of G found after the previous turn ends, and is the longest piece of D found
//     there. What the template drops from D later is not trained on.
// Within a turn, tokens are masked from its first token up to and including the first end-of-turn
// token and any that immediately follow (the newline a template puts after <|im_end|> is
// scaffolding); a turn without one is masked to its end. A character offset maps to the token
// where the tokenization of the text up to that offset stops agreeing with the whole text's, so a
// token that straddles a boundary goes with the text after it.
//
// Not a template engine (see EdgeLM.Templates) and not a tokenizer.
using System.Text.Json;
using EdgeLM.Formats;
using EdgeLM.Templates;

namespace EdgeLM.Training.Data;

public static class ChatTokenizer
{
    /// <summary>Tokens and loss mask of one conversation; errors name the record's source.</summary>
    public static (int[] Tokens, bool[] Mask) Tokenize(CorpusRecord record, ChatTemplate template, ICorpusTokenizer tokenizer,
        IReadOnlyDictionary<string, object?>? variables = null)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var messages = record.Messages ?? throw new ArgumentException("not a conversation", nameof(record));
        try
        {
            string full = Render(template, messages, messages.Count, false, record, variables);
            var spans = AssistantSpans(template, messages, full, record, variables);
            if (spans.Count == 0) throw new InvalidModelFileException(record.Source, "the conversation has no assistant message to learn from");
            int[] tokens = tokenizer.Encode(full, parseSpecial: true);
            bool[] mask = MaskTokens(full, tokens, spans, tokenizer);
            return PrependBos(tokens, mask, tokenizer.Bos);
        }
        catch (ChatTemplateException e)
        {
            throw new InvalidModelFileException(record.Source, $"the chat template cannot render this conversation: {e.Message}", e);
        }
        catch (JsonException e)
        {
            throw new InvalidModelFileException(record.Source, $"tool-call arguments are not valid JSON: {e.Message}", e);
        }
    }

    static string Render(ChatTemplate template, IReadOnlyList<ChatMessage> messages, int count, bool generationPrompt,
        CorpusRecord record, IReadOnlyDictionary<string, object?>? variables)
    {
        var slice = count == messages.Count ? messages : messages.Take(count).ToList();
        return template.Render(slice, generationPrompt, variables, record.Tools);
    }

    /// <summary>Character spans [Start, End) of the assistant turns in <paramref name="full"/>.</summary>
    static List<(int Start, int End)> AssistantSpans(ChatTemplate template, IReadOnlyList<ChatMessage> messages, string full,
        CorpusRecord record, IReadOnlyDictionary<string, object?>? variables)
    {
        var spans = new List<(int, int)>();
        int cursor = 0;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != "assistant") continue;
            string g = RenderPrompt(template, messages, i, record, variables);
            string a = Render(template, messages, i + 1, false, record, variables);
            if (a.Length == g.Length && a == g)
                throw new InvalidModelFileException(record.Source, $"messages[{i}]: the chat template renders nothing for this assistant turn");
            if (a.StartsWith(g, StringComparison.Ordinal) && full.StartsWith(a, StringComparison.Ordinal) && g.Length >= cursor)
            {
                spans.Add((g.Length, a.Length));
                cursor = a.Length;
                continue;
            }
            string promptTail = LongestTailFound(full, g, cursor);
            int from = promptTail.Length == 0 ? cursor : full.IndexOf(promptTail, cursor, StringComparison.Ordinal) + promptTail.Length;
            string delta = a[CommonPrefix(a, g)..];
            int length = LongestPieceAt(full, from, delta);
            if (length == 0)
                throw new InvalidModelFileException(record.Source, $"messages[{i}]: the chat template renders this assistant turn in a way that cannot be found in the whole conversation");
            spans.Add((from, from + length));
            cursor = from + length;
        }
        return spans;
    }

    /// <summary>messages[..i] with the generation prompt; a template that cannot render an empty
    /// conversation (assistant first) gives no prompt.</summary>
    static string RenderPrompt(ChatTemplate template, IReadOnlyList<ChatMessage> messages, int i, CorpusRecord record,
        IReadOnlyDictionary<string, object?>? variables)
    {
        if (i > 0) return Render(template, messages, i, true, record, variables);
        try { return Render(template, messages, 0, true, record, variables); }
        catch (ChatTemplateException) { return ""; }
    }

    /// <summary>The longest tail of <paramref name="s"/> that occurs in <paramref name="text"/> at or
    /// after <paramref name="from"/>. If a tail occurs, so does every shorter one, so the length can
    /// be found by bisection.</summary>
    static string LongestTailFound(string text, string s, int from)
    {
        int lo = 0, hi = s.Length; // s[hi..] (empty) always occurs; find the smallest k that does
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (text.IndexOf(s[mid..], from, StringComparison.Ordinal) >= 0) hi = mid;
            else lo = mid + 1;
        }
        return s[lo..];
    }

    /// <summary>The length of the longest piece of <paramref name="delta"/> that the text has at
    /// <paramref name="at"/>: the template may drop the start of a turn (an earlier turn's reasoning)
    /// or what it put after it (a trailing prompt), but keeps the middle where the prompt left it.</summary>
    static int LongestPieceAt(string text, int at, string delta)
    {
        var rest = text.AsSpan(at);
        int best = 0;
        for (int k = 0; k < delta.Length && delta.Length - k > best; k++)
            best = Math.Max(best, rest.CommonPrefixLength(delta.AsSpan(k)));
        return best;
    }

    static int CommonPrefix(string a, string b) => a.AsSpan().CommonPrefixLength(b);

    static bool[] MaskTokens(string full, int[] tokens, List<(int Start, int End)> spans, ICorpusTokenizer tokenizer)
    {
        var mask = new bool[tokens.Length];
        foreach (var (start, end) in spans)
        {
            int t0 = TokenAt(full, start, tokens, tokenizer), t1 = TokenAt(full, end, tokens, tokenizer);
            int stop = t1;
            for (int t = t0; t < t1; t++)
            {
                if (!tokenizer.IsEndOfTurn(tokens[t])) continue;
                stop = t + 1;
                while (stop < t1 && tokenizer.IsEndOfTurn(tokens[stop])) stop++;
                break;
            }
            mask.AsSpan(t0, stop - t0).Fill(true);
        }
        return mask;
    }

    /// <summary>The first token of <paramref name="tokens"/> (the whole text's) that the tokenization
    /// of text[..offset] does not also produce.</summary>
    static int TokenAt(string text, int offset, int[] tokens, ICorpusTokenizer tokenizer)
    {
        if (offset >= text.Length) return tokens.Length;
        if (offset == 0) return 0;
        int[] prefix = tokenizer.Encode(text[..offset], parseSpecial: true);
        return prefix.AsSpan().CommonPrefixLength(tokens);
    }

    static (int[], bool[]) PrependBos(int[] tokens, bool[] mask, int bos)
    {
        if (bos < 0 || (tokens.Length > 0 && tokens[0] == bos)) return (tokens, mask);
        return ([bos, .. tokens], [false, .. mask]);
    }
}
