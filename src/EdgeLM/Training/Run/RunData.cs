// The one place a training run turns --data into token streams: documents are read (a UTF-8 text
// file is one document; a folder gives one per .txt / .md file, in ordinal path order), each is
// tokenized BOS + text + EOS, the documents are joined, and the last ValFraction of the tokens is
// held out for validation. Data with JSONL files ({"text"} documents, {"messages"} conversations with
// the loss on assistant turns only) goes through Training/Data's TrainingCorpus instead, which
// splits by whole document or conversation. Not a tokenizer and not a sampler.
using System.Text;
using EdgeLM.Training.Data;

namespace EdgeLM.Training.Run;

public static class RunData
{
    /// <summary>The documents under <paramref name="path"/>, as strict UTF-8 text.</summary>
    public static List<string> ReadDocuments(string path, CancellationToken cancel = default)
    {
        var files = new List<string>();
        if (Directory.Exists(path))
        {
            foreach (var f in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
                if (f.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".md", StringComparison.OrdinalIgnoreCase)) files.Add(f);
            files.Sort(StringComparer.Ordinal);
            if (files.Count == 0) throw new FileNotFoundException($"{path}: no .txt or .md files in this folder");
        }
        else if (File.Exists(path)) files.Add(path);
        else throw new FileNotFoundException($"{path}: file not found", path);
        var strict = new UTF8Encoding(false, true);
        var docs = new List<string>(files.Count);
        foreach (var f in files)
        {
            cancel.ThrowIfCancellationRequested();
            try
            {
                docs.Add(File.ReadAllText(f, strict));
            }
            catch (DecoderFallbackException e)
            {
                throw new FormatException($"{f}: not valid UTF-8 ({e.Message})");
            }
        }
        return docs;
    }

    /// <summary>Whether <paramref name="path"/> holds JSON lines (a .jsonl / .json file, or a folder with one).</summary>
    public static bool IsStructured(string path) =>
        Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Any(IsJson)
            : IsJson(path);

    static bool IsJson(string f) =>
        f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>The texts of a structured corpus's records (documents, and every message of a
    /// conversation), for training a tokenizer on it.</summary>
    public static List<string> ReadRecordTexts(string path)
    {
        var texts = new List<string>();
        var stats = new CorpusStats();
        foreach (string f in CorpusReader.ExpandPaths([path], stats))
            CorpusReader.ReadFile(f, lenient: false, stats, r =>
            {
                if (r.Text is not null) texts.Add(r.Text);
                if (r.Messages is not null) foreach (var m in r.Messages) texts.Add(m.Content ?? "");
            });
        return texts;
    }

    /// <summary>(train, validation) from a structured corpus: split by whole records, the validation side
    /// at least one window long.</summary>
    public static (TokenSequence Train, TokenSequence Validation) LoadStructured(string path, RunTokenizer tokenizer,
        double valFraction, int T, int seed, CancellationToken cancel = default)
    {
        var corpus = TrainingCorpus.Load([path], tokenizer.Corpus, new CorpusOptions(ValidationFraction: valFraction, Seed: seed), cancel);
        if (corpus.Train.Length <= T || corpus.Validation.Length <= T)
            throw new ArgumentException($"{path}: {corpus.Stats}; either the training part ({corpus.Train.Length} tokens) or the validation part ({corpus.Validation.Length}) is shorter than one window of --ctx {T} + 1 (more data or a larger --val-fraction)");
        return (corpus.Train, corpus.Validation);
    }

    /// <summary>(train, validation) token streams for a run whose windows are <paramref name="T"/> tokens.</summary>
    public static (TokenSequence Train, TokenSequence Validation) Load(List<string> documents, RunTokenizer tokenizer,
        double valFraction, int T, CancellationToken cancel = default)
    {
        var tokens = new List<int>();
        foreach (var d in documents)
        {
            cancel.ThrowIfCancellationRequested();
            tokenizer.EncodeDocument(d, tokens);
        }
        var all = tokens.ToArray();
        int split = (int)(all.Length * (1 - valFraction));
        // Each side needs one window of T inputs plus its last target.
        if (split <= T || all.Length - split <= T)
            throw new ArgumentException($"the data has {all.Length} tokens: with --val-fraction {valFraction} either the training part ({split}) or the validation part ({all.Length - split}) is shorter than one window of --ctx {T} + 1");
        return (new TokenSequence(all[..split]), new TokenSequence(all[split..]));
    }
}
