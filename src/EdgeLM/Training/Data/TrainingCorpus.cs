// Loads a training corpus: files and folders of text, JSONL documents and chat conversations (see
// CorpusReader, ConversationJson, ChatTokenizer), tokenized with the model's tokenizer, split into
// training and validation by whole document or conversation (a seeded shuffle, so the same inputs
// and seed always give the same split and no unit is on both sides), and packed into one
// TokenSequence per side. Documents are BOS + text + EOS (each only when the tokenizer has one; BOS
// only when its rules add it); conversations carry a loss mask on the assistant's turns. Not a
// batcher: the trainer cuts windows from the sequences.
using System.Diagnostics;
using EdgeLM.Formats;
using EdgeLM.Templates;

namespace EdgeLM.Training.Data;

/// <summary>The two packed sides of a corpus and what loading found.</summary>
public sealed record LoadedCorpus(TokenSequence Train, TokenSequence Validation, CorpusStats Stats);

public static class TrainingCorpus
{
    /// <summary>One tokenized document or conversation (or a piece of a long document); Mask null
    /// when every token counts.</summary>
    readonly record struct Unit(int[] Tokens, bool[]? Mask);

    public static LoadedCorpus Load(IReadOnlyList<string> paths, ICorpusTokenizer tokenizer, CorpusOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(tokenizer);
        options ??= new CorpusOptions();
        options.Validate();
        var clock = Stopwatch.StartNew();
        var stats = new CorpusStats();
        var records = new List<CorpusRecord>();
        foreach (string file in CorpusReader.ExpandPaths(paths, stats))
        {
            cancellationToken.ThrowIfCancellationRequested();
            CorpusReader.ReadFile(file, options.Lenient, stats, records.Add);
        }
        var units = Tokenize(records, tokenizer, options, stats, cancellationToken);
        if (units.Count == 0)
            throw new InvalidModelFileException(string.Join(", ", paths), stats.BadRecords > 0
                ? $"no usable document or conversation ({stats.BadRecords} bad records; first: {stats.Warnings[0]})"
                : "no document or conversation found");
        bool[] isValidation = Split(units.Count, options.ValidationFraction, options.Seed);
        var train = Pack(units, isValidation, false);
        var validation = Pack(units, isValidation, true);
        stats.TrainUnits = units.Count - isValidation.Count(v => v);
        stats.ValidationUnits = units.Count - stats.TrainUnits;
        stats.TrainTokens = train.Length;
        stats.ValidationTokens = validation.Length;
        stats.MaskedTrainTokens = train.LossMask is null ? train.Length : train.LossMask.Count(m => m);
        stats.Elapsed = clock.Elapsed;
        return new LoadedCorpus(train, validation, stats);
    }

    /// <summary>Tokenizes every record (in parallel: the tokenizer is thread-safe and records are
    /// independent), keeping the records' order. Bad conversations throw or, when lenient, are counted.</summary>
    static List<Unit> Tokenize(List<CorpusRecord> records, ICorpusTokenizer tokenizer, CorpusOptions options, CorpusStats stats,
        CancellationToken ct)
    {
        var template = options.ChatTemplate ?? tokenizer.Template;
        var results = new Unit[records.Count][];
        var errors = new InvalidModelFileException?[records.Count];
        int truncated = 0;
        Parallel.For(0, records.Count, new ParallelOptions { CancellationToken = ct }, i =>
        {
            try
            {
                results[i] = ToUnits(records[i], tokenizer, template, options, out bool cut);
                if (cut) Interlocked.Increment(ref truncated);
            }
            catch (InvalidModelFileException e) { errors[i] = e; }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A record the template engine or tokenizer chokes on is a bad record, named, not a crash.
                errors[i] = new InvalidModelFileException(records[i].Source, $"cannot be tokenized: {e.Message}", e);
            }
        });
        var units = new List<Unit>();
        for (int i = 0; i < records.Count; i++)
        {
            if (errors[i] is { } e)
            {
                if (!options.Lenient) throw e;
                stats.Warn(e.Message);
                if (records[i].IsConversation) stats.Conversations--;
                else stats.Documents--;
                continue;
            }
            foreach (var u in results[i]) units.Add(u);
        }
        stats.TruncatedDocuments = truncated;
        return units;
    }

    static Unit[] ToUnits(CorpusRecord record, ICorpusTokenizer tokenizer, ChatTemplate? template, CorpusOptions options, out bool truncated)
    {
        int max = options.MaxDocumentTokens;
        if (record.IsConversation)
        {
            if (template is null)
                throw new InvalidModelFileException(record.Source, "a conversation needs a chat template, and the tokenizer has none (give one in the options)");
            var (tokens, mask) = ChatTokenizer.Tokenize(record, template, tokenizer, options.TemplateVariables);
            truncated = max > 0 && tokens.Length > max;
            return [Cap(new Unit(tokens, mask), max)];
        }
        if (record.Text!.Length == 0) throw new InvalidModelFileException(record.Source, "\"text\" is empty");
        int[] body = tokenizer.Encode(record.Text, parseSpecial: false);
        var pieces = Chunk(body, options.ChunkTokens);
        truncated = false;
        var units = new Unit[pieces.Count];
        for (int p = 0; p < pieces.Count; p++)
        {
            var (offset, length) = pieces[p];
            bool first = p == 0, last = p == pieces.Count - 1;
            int bos = first && tokenizer.Bos >= 0 ? 1 : 0, eos = last && tokenizer.Eos >= 0 ? 1 : 0;
            var t = new int[bos + length + eos];
            if (bos == 1) t[0] = tokenizer.Bos;
            body.AsSpan(offset, length).CopyTo(t.AsSpan(bos));
            if (eos == 1) t[^1] = tokenizer.Eos;
            truncated |= max > 0 && t.Length > max;
            units[p] = Cap(new Unit(t, null), max);
        }
        return units;
    }

    static List<(int Offset, int Length)> Chunk(int[] body, int chunk)
    {
        var pieces = new List<(int, int)>();
        if (chunk <= 0 || body.Length <= chunk) { pieces.Add((0, body.Length)); return pieces; }
        for (int o = 0; o < body.Length; o += chunk) pieces.Add((o, Math.Min(chunk, body.Length - o)));
        return pieces;
    }

    static Unit Cap(Unit u, int max) =>
        max <= 0 || u.Tokens.Length <= max ? u : new Unit(u.Tokens[..max], u.Mask?[..max]);

    /// <summary>Which units are held out: round(fraction · n), at least one when n ≥ 2 and fraction
    /// &gt; 0, never all; chosen by a Fisher–Yates shuffle seeded with <paramref name="seed"/>.</summary>
    public static bool[] Split(int count, double fraction, int seed)
    {
        var isValidation = new bool[count];
        if (count < 2 || fraction <= 0) return isValidation;
        int n = Math.Clamp((int)Math.Round(fraction * count, MidpointRounding.AwayFromZero), 1, count - 1);
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        var rng = new Random(seed); // the seeded algorithm is fixed across .NET versions
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        for (int i = 0; i < n; i++) isValidation[order[i]] = true;
        return isValidation;
    }

    /// <summary>Concatenates the units of one side in corpus order; the mask is dropped when every
    /// target counts.</summary>
    static TokenSequence Pack(List<Unit> units, bool[] isValidation, bool validationSide)
    {
        long total = 0;
        bool anyMask = false;
        for (int i = 0; i < units.Count; i++)
        {
            if (isValidation[i] != validationSide) continue;
            total += units[i].Tokens.Length;
            anyMask |= units[i].Mask is not null;
        }
        if (total > Array.MaxLength) throw new InvalidOperationException($"the corpus has {total} tokens on one side, more than one array holds");
        var tokens = new int[total];
        var mask = anyMask ? new bool[total] : null;
        int at = 0;
        for (int i = 0; i < units.Count; i++)
        {
            if (isValidation[i] != validationSide) continue;
            var u = units[i];
            u.Tokens.CopyTo(tokens, at);
            if (mask is not null)
            {
                if (u.Mask is null) mask.AsSpan(at, u.Tokens.Length).Fill(true);
                else u.Mask.CopyTo(mask, at);
            }
            at += u.Tokens.Length;
        }
        return new TokenSequence(tokens, mask);
    }
}
