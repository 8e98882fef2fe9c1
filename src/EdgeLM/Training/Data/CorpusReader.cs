// Finds the files of a training corpus and turns each into records: a .txt / .md file is one
// plain-text document; a .jsonl or .json file holds one JSON object per line (or a .json file one
// top-level array of them), each {"text": "..."} (a document) or {"messages": [...], "tools": [...]}
// (a conversation, see ConversationJson). Input must be strict UTF-8 (RFC 3629) and JSON (RFC 8259);
// every error names the file and line and says what is wrong. Not a tokenizer: records are text.
using System.Text.Json;
using System.Text.Unicode;
using EdgeLM.Formats;
using EdgeLM.Templates;

namespace EdgeLM.Training.Data;

/// <summary>One document (<see cref="Text"/>) or one conversation (<see cref="Messages"/>), with
/// where it came from ("file" or "file:line").</summary>
public sealed record CorpusRecord(string Source, string? Text, IReadOnlyList<ChatMessage>? Messages = null,
    IReadOnlyList<JsonElement>? Tools = null)
{
    public bool IsConversation => Messages is not null;
}

public static class CorpusReader
{
    static readonly string[] TextExtensions = [".txt", ".md"];
    static readonly string[] JsonExtensions = [".jsonl", ".json"];

    /// <summary>The corpus files under <paramref name="paths"/> (files as given, folders recursively,
    /// in ordinal order so that the corpus and its split do not depend on the file system's order).
    /// Files of other kinds inside folders are skipped and counted; a file named explicitly with an
    /// unknown extension is an error.</summary>
    public static List<string> ExpandPaths(IReadOnlyList<string> paths, CorpusStats stats)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new List<string>();
        foreach (string p in paths)
        {
            if (Directory.Exists(p))
            {
                var found = Directory.GetFiles(p, "*", SearchOption.AllDirectories);
                Array.Sort(found, StringComparer.Ordinal);
                foreach (string f in found)
                {
                    if (IsCorpusFile(f)) files.Add(f);
                    else stats.SkippedFiles++;
                }
            }
            else if (File.Exists(p))
            {
                if (!IsCorpusFile(p))
                    throw new InvalidModelFileException(p, $"not a corpus file (known extensions: {string.Join(", ", TextExtensions.Concat(JsonExtensions))})");
                files.Add(p);
            }
            else throw new FileNotFoundException($"{p}: no such file or folder", p);
        }
        stats.Files = files.Count;
        return files;
    }

    static bool IsCorpusFile(string path)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        return Array.IndexOf(TextExtensions, ext) >= 0 || Array.IndexOf(JsonExtensions, ext) >= 0;
    }

    /// <summary>Reads one file's records into <paramref name="sink"/>. Under lenient, a bad record
    /// (or a whole unreadable file) is skipped and counted in <paramref name="stats"/>; otherwise it
    /// throws <see cref="InvalidModelFileException"/>.</summary>
    public static void ReadFile(string path, bool lenient, CorpusStats stats, Action<CorpusRecord> sink)
    {
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(sink);
        string text;
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            stats.Bytes += bytes.Length;
            text = StrictUtf8(path, bytes);
            if (text.Length == 0 || (IsJson(path) && string.IsNullOrWhiteSpace(text)))
                throw new InvalidModelFileException(path, "empty file");
        }
        catch (InvalidModelFileException e) when (lenient)
        {
            stats.Warn(e.Message);
            return;
        }
        if (!IsJson(path))
        {
            stats.Documents++;
            sink(new CorpusRecord(path, text));
        }
        else if (text.AsSpan().TrimStart()[0] == '[') ReadJsonArray(path, text, lenient, stats, sink);
        else ReadJsonLines(path, text, lenient, stats, sink);
    }

    static bool IsJson(string path) => Array.IndexOf(JsonExtensions, Path.GetExtension(path).ToLowerInvariant()) >= 0;

    /// <summary>Decodes strict UTF-8 (a leading byte-order mark is dropped); an invalid sequence is an
    /// error naming its line and byte offset.</summary>
    internal static string StrictUtf8(string path, byte[] bytes)
    {
        ReadOnlySpan<byte> span = bytes;
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) span = span[3..];
        var chars = new char[span.Length];
        var status = Utf8.ToUtf16(span, chars, out int read, out int written, replaceInvalidSequences: false);
        if (status != System.Buffers.OperationStatus.Done)
        {
            int line = 1 + span[..read].Count((byte)'\n');
            throw new InvalidModelFileException(path, $"line {line}: not valid UTF-8 at byte offset {read + bytes.Length - span.Length} (0x{span[read]:X2})");
        }
        return new string(chars, 0, written);
    }

    static void ReadJsonLines(string path, string text, bool lenient, CorpusStats stats, Action<CorpusRecord> sink)
    {
        int lineNo = 0;
        foreach (var range in text.AsSpan().Split('\n'))
        {
            lineNo++;
            var line = text.AsSpan(range).TrimEnd('\r');
            if (line.IsWhiteSpace()) continue; // blank lines (a trailing newline) carry no record
            string where = $"line {lineNo}";
            try
            {
                using var doc = ParseLine(path, where, line.ToString());
                var record = ConversationJson.ToRecord(doc.RootElement, path, where);
                Count(record, stats);
                sink(record);
            }
            catch (InvalidModelFileException e) when (lenient)
            {
                stats.Warn(e.Message);
            }
        }
    }

    static void ReadJsonArray(string path, string text, bool lenient, CorpusStats stats, Action<CorpusRecord> sink)
    {
        JsonDocument doc;
        try { doc = ParseLine(path, "", text); }
        catch (InvalidModelFileException e) when (lenient) { stats.Warn(e.Message); return; }
        using (doc)
        {
            int i = 0;
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                string where = $"element {i++}";
                try
                {
                    var record = ConversationJson.ToRecord(item, path, where);
                    Count(record, stats);
                    sink(record);
                }
                catch (InvalidModelFileException e) when (lenient)
                {
                    stats.Warn(e.Message);
                }
            }
        }
    }

    static JsonDocument ParseLine(string path, string where, string json)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            // JsonException's own line number counts from 0 within what was parsed.
            string at = where.Length > 0 ? $"{where}, column {e.BytePositionInLine + 1}" : $"line {e.LineNumber + 1}, column {e.BytePositionInLine + 1}";
            throw new InvalidModelFileException(path, $"{at}: malformed JSON ({FirstSentence(e.Message)})");
        }
    }

    static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    static void Count(CorpusRecord record, CorpusStats stats)
    {
        if (record.IsConversation) stats.Conversations++;
        else stats.Documents++;
    }

    internal static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}
