// The one place a training run turns --data into token streams: documents are read (a UTF-8 text
// file is one document; a folder gives one per .txt / .md file, in ordinal path order), each is
// tokenized BOS + text + EOS, the documents are joined, and the last ValFraction of the tokens is
// held out for validation. Readers of other formats (JSONL, chat) produce the same pair of
// TokenSequences and replace Load. Not a tokenizer and not a sampler.
using System.Text;

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
