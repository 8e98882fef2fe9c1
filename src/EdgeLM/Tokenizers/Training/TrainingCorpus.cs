// The text a tokenizer is trained on: plain text files, folders of them (recursively), JSONL files
// whose lines are objects with a "text" field, and JSON arrays of poems with "paragraphs" (the
// chinese-poetry layout; paragraphs joined with '\n'). Each document is NFC-normalized, so one text
// in two spellings counts once (encoding does not normalize, as llama.cpp does not). Not a streaming reader: the
// whole corpus is held in memory (fine for the tens of megabytes this trainer targets).
using System.Text;
using System.Text.Json;
using EdgeLM.Formats;

namespace EdgeLM.Tokenizers.Training;

public static class TrainingCorpus
{
    static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>All documents under the given files and folders, NFC-normalized.</summary>
    public static List<string> Read(IEnumerable<string> paths, CancellationToken cancel = default)
    {
        var docs = new List<string>();
        foreach (string p in paths)
        {
            if (Directory.Exists(p))
            {
                var files = Directory.GetFiles(p, "*", SearchOption.AllDirectories);
                Array.Sort(files, StringComparer.Ordinal); // a stable order makes training reproducible
                foreach (string f in files) { cancel.ThrowIfCancellationRequested(); ReadFile(f, docs); }
            }
            else if (File.Exists(p)) ReadFile(p, docs);
            else throw new FileNotFoundException($"{p}: no such file or folder", p);
        }
        return docs;
    }

    /// <summary>The documents of one file, by its extension (.jsonl, .json, anything else is text).</summary>
    public static void ReadFile(string path, List<string> into)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, StrictUtf8);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidModelFileException(path, $"not valid UTF-8 ({e.Message})", e);
        }
        string ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext == ".jsonl") ReadJsonl(path, text, into);
        else if (ext == ".json") ReadJson(path, text, into);
        else Add(text, into);
    }

    static void Add(string text, List<string> into)
    {
        if (text.Length == 0) return;
        into.Add(text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC));
    }

    static void ReadJsonl(string path, string text, List<string> into)
    {
        int lineNo = 0;
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            lineNo++;
            if (line.IsWhiteSpace()) continue;
            try
            {
                using var doc = JsonDocument.Parse(line.ToString());
                if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("text", out var t)
                    || t.ValueKind != JsonValueKind.String)
                    throw new InvalidModelFileException(path, $"line {lineNo} has no string field \"text\"");
                Add(t.GetString()!, into);
            }
            catch (JsonException e)
            {
                throw new InvalidModelFileException(path, $"line {lineNo} is not valid JSON: {e.Message}", e);
            }
        }
    }

    static void ReadJson(string path, string text, List<string> into)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
                throw new InvalidModelFileException(path, "expected an array of objects with \"text\" or \"paragraphs\"");
            foreach (var item in root.EnumerateArray()) AddJsonItem(path, item, into);
        }
        catch (JsonException e)
        {
            throw new InvalidModelFileException(path, $"not valid JSON: {e.Message}", e);
        }
    }

    static void AddJsonItem(string path, JsonElement item, List<string> into)
    {
        if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
            Add(t.GetString()!, into);
        else if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("paragraphs", out var ps) && ps.ValueKind == JsonValueKind.Array)
        {
            var sb = new StringBuilder();
            foreach (var para in ps.EnumerateArray())
            {
                if (sb.Length > 0) sb.Append('\n');
                sb.Append(para.GetString());
            }
            Add(sb.ToString(), into);
        }
        else throw new InvalidModelFileException(path, "an array item has neither \"text\" nor \"paragraphs\"");
    }
}
