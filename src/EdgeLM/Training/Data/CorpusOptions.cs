// How a training corpus is read, split and packed, and what the reading found. Typed records with
// reasoned defaults; TrainingCorpus validates them once.
using EdgeLM.Templates;

namespace EdgeLM.Training.Data;

/// <summary>Options for <see cref="TrainingCorpus.Load"/>.</summary>
/// <param name="ValidationFraction">Share of documents / conversations held out (0.1: enough to
/// measure perplexity without starving training). At least one unit is held out when there are two
/// or more, and at least one is kept for training.</param>
/// <param name="Seed">Which units are held out: the same files and seed give the same split.</param>
/// <param name="Lenient">Skip bad lines, files and conversations (counted in the stats) instead of
/// failing on the first.</param>
/// <param name="MaxDocumentTokens">Cut each document or conversation after this many tokens
/// (0 = no cap), so one huge file cannot dominate a packed stream.</param>
/// <param name="ChunkTokens">Cut plain-text documents into pieces of this many tokens before the
/// split (0 = whole documents), so a single large text still yields a validation set. Pieces of one
/// document go to either side independently; each piece keeps its own BOS / EOS only where the
/// document begins and ends.</param>
/// <param name="ChatTemplate">Overrides the tokenizer's chat template (needed for a vocabulary that
/// has none, such as the byte vocabulary).</param>
/// <param name="TemplateVariables">Extra template variables (e.g. enable_thinking).</param>
public sealed record CorpusOptions(
    double ValidationFraction = 0.1,
    int Seed = 1234,
    bool Lenient = false,
    int MaxDocumentTokens = 0,
    int ChunkTokens = 0,
    ChatTemplate? ChatTemplate = null,
    IReadOnlyDictionary<string, object?>? TemplateVariables = null)
{
    internal void Validate()
    {
        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "must be in [0, 1)");
        if (MaxDocumentTokens < 0) throw new ArgumentOutOfRangeException(nameof(MaxDocumentTokens), MaxDocumentTokens, "must be ≥ 0");
        if (ChunkTokens < 0) throw new ArgumentOutOfRangeException(nameof(ChunkTokens), ChunkTokens, "must be ≥ 0");
    }
}

/// <summary>What loading found: counts per kind, what was skipped and why (first few reasons).</summary>
public sealed class CorpusStats
{
    public int Files { get; internal set; }
    public int SkippedFiles { get; internal set; }          // unknown extension
    public int Documents { get; internal set; }             // plain-text documents (files or "text" lines)
    public int Conversations { get; internal set; }
    public int BadRecords { get; internal set; }            // skipped under Lenient
    public int TruncatedDocuments { get; internal set; }
    public int TrainUnits { get; internal set; }
    public int ValidationUnits { get; internal set; }
    public long TrainTokens { get; internal set; }
    public long ValidationTokens { get; internal set; }
    public long MaskedTrainTokens { get; internal set; }    // targets that count toward the loss
    public long Bytes { get; internal set; }
    public TimeSpan Elapsed { get; internal set; }

    /// <summary>The first reasons records were skipped (file:line: what is wrong).</summary>
    public List<string> Warnings { get; } = [];

    internal const int MaxWarnings = 20;

    internal void Warn(string message)
    {
        BadRecords++;
        if (Warnings.Count < MaxWarnings) Warnings.Add(message);
    }

    public override string ToString() =>
        $"{Files} files ({SkippedFiles} skipped), {Documents} documents, {Conversations} conversations, {BadRecords} bad records; " +
        $"train {TrainUnits} units / {TrainTokens} tokens ({MaskedTrainTokens} in the loss), validation {ValidationUnits} units / {ValidationTokens} tokens";
}
