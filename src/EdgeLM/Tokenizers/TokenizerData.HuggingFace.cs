// TokenizerData from a Hugging Face tokenizer.json and the tokenizer_config.json beside it, mapped
// the way llama.cpp's convert_hf_to_gguf.py maps them. This file: the dispatch on model type, the
// shared vocabulary reading (vocab + added tokens: special → control, otherwise user-defined; holes
// in the id range padded as unused "[PADn]" tokens), and byte-level BPE (merges in both "a b" and
// ["a","b"] forms, the pre-tokenizer regexes named with llama.cpp's tokenizer.ggml.pre names, see
// PreTokenizerPatterns). SentencePiece-style BPE, Unigram and WordPiece are in the partial files beside it.
using System.Text.Json;
using EdgeLM.Formats;

namespace EdgeLM.Tokenizers;

public sealed partial record TokenizerData
{
    /// <summary>Reads tokenizer.json (and tokenizer_config.json in the same folder, when present).</summary>
    public static TokenizerData FromHuggingFace(string tokenizerJsonPath)
    {
        string path = tokenizerJsonPath;
        using var doc = ParseJson(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new InvalidModelFileException(path, "no 'model' object");
        string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() ?? "" : "";
        var config = ReadConfig(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", "tokenizer_config.json"));
        try
        {
            return Dispatch(root, model, type, path, config).Validate(path);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
        {
            // A value of the wrong JSON kind deep inside (a string where a number belongs, ...).
            throw new InvalidModelFileException(path, $"unexpected JSON structure: {e.Message}", e);
        }
    }

    static TokenizerData Dispatch(JsonElement root, JsonElement model, string type, string path, HfConfig config) =>
        type switch
        {
            "BPE" when IsByteLevel(root) => FromHfByteLevel(root, model, path, config),
            "BPE" when IsSentencePieceBpe(root, model) => FromHfSentencePiece(root, model, path, config),
            "WordPiece" => FromHfWordPiece(root, model, path, config),
            "Unigram" => FromHfUnigram(root, model, path, config),
            "BPE" => throw new InvalidModelFileException(path, "a BPE tokenizer.json that is neither byte-level (ByteLevel pre-tokenizer or decoder) nor SentencePiece-style ('▁' normalizer, Metaspace or byte_fallback)"),
            _ => throw new InvalidModelFileException(path, $"model type '{type}' is not supported (expected BPE, WordPiece or Unigram)"),
        };

    static TokenizerData FromHfByteLevel(JsonElement root, JsonElement model, string path, HfConfig config)
    {
        var (tokens, types) = ReadVocab(root, model, path, unkText: null, byteFallback: false);
        var ids = FirstIds(tokens);
        int Lookup(string? text) => text is not null && ids.TryGetValue(text, out int id) ? id : -1;
        string pre = PreName(root);
        return new TokenizerData
        {
            Model = "gpt2",
            Pre = pre,
            Tokens = tokens,
            Types = types,
            Merges = ReadMerges(model, path),
            BosId = Lookup(config.Bos),
            EosId = Lookup(config.Eos),
            UnkId = Lookup(config.Unk),
            PadId = Lookup(config.Pad),
            // Without add_bos_token, llama.cpp's default for the Llama 3 family is to add BOS.
            AddBos = config.AddBos ?? (PostProcessorAdds(root, config.Bos) || IsLlama3Family(pre)),
            AddEos = config.AddEos ?? false,
            ChatTemplate = config.ChatTemplate,
            ModelName = config.Name,
        };
    }

    /// <summary>
    /// model.vocab ({text: id}) plus added_tokens (special → control, otherwise user-defined), holes
    /// in the id range padded as unused "[PADn]" tokens. With <paramref name="byteFallback"/>, "&lt;0xHH&gt;"
    /// entries are byte tokens; <paramref name="unkText"/> is the unknown token.
    /// </summary>
    static (string[] Tokens, TokenType[] Types) ReadVocab(JsonElement root, JsonElement model, string path, string? unkText, bool byteFallback)
    {
        var byId = new Dictionary<int, (string Text, TokenType Type)>();
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            throw new InvalidModelFileException(path, "model.vocab is missing or not an object");
        foreach (var p in vocab.EnumerateObject())
        {
            int id = p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int v) && v >= 0 ? v : throw new InvalidModelFileException(path, $"vocab entry '{p.Name}' has id {p.Value}");
            var type = p.Name == unkText ? TokenType.Unknown : byteFallback && IsByteTokenText(p.Name) ? TokenType.Byte : TokenType.Normal;
            byId[id] = (p.Name, type);
        }
        ReadAddedTokens(root, path, unkText, byId);
        return Dense(byId, path);
    }

    static void ReadAddedTokens(JsonElement root, string path, string? unkText, Dictionary<int, (string, TokenType)> byId)
    {
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind != JsonValueKind.Array) return;
        foreach (var a in added.EnumerateArray())
        {
            if (a.ValueKind != JsonValueKind.Object || !a.TryGetProperty("id", out var idEl)
                || idEl.ValueKind != JsonValueKind.Number || !idEl.TryGetInt32(out int id)
                || !a.TryGetProperty("content", out var c) || c.ValueKind != JsonValueKind.String)
                throw new InvalidModelFileException(path, $"added_tokens entry {a.GetRawText()} needs an integer 'id' and a string 'content'");
            string content = c.GetString()!;
            bool special = a.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
            if (id < 0) throw new InvalidModelFileException(path, $"added token '{content}' has id {id}");
            byId[id] = (content, content == unkText ? TokenType.Unknown : special ? TokenType.Control : TokenType.UserDefined);
        }
    }

    static (string[] Tokens, TokenType[] Types) Dense(Dictionary<int, (string Text, TokenType Type)> byId, string path)
    {
        int n = 0;
        foreach (int id in byId.Keys) n = Math.Max(n, id + 1);
        if (n > byId.Count * 2 + 1024)
            throw new InvalidModelFileException(path, $"token ids reach {n - 1} but only {byId.Count} tokens are defined");
        var tokens = new string[n];
        var types = new TokenType[n];
        for (int i = 0; i < n; i++)
            (tokens[i], types[i]) = byId.TryGetValue(i, out var e) ? e : ($"[PAD{i}]", TokenType.Unused);
        return (tokens, types);
    }

    static Dictionary<string, int> FirstIds(string[] tokens)
    {
        var ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) ids.TryAdd(tokens[i], i);
        return ids;
    }

    static bool PostProcessorAdds(JsonElement root, string? token) =>
        token is not null && root.TryGetProperty("post_processor", out var pp)
        && pp.ValueKind == JsonValueKind.Object && PostProcessorMentions(pp, token);

    /// <summary>True when a TemplateProcessing post-processor inserts <paramref name="token"/> (it then adds BOS).</summary>
    static bool PostProcessorMentions(JsonElement e, string token) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString() == token,
        JsonValueKind.Object => e.EnumerateObject().Any(p => PostProcessorMentions(p.Value, token)),
        JsonValueKind.Array => e.EnumerateArray().Any(x => PostProcessorMentions(x, token)),
        _ => false,
    };

    static JsonDocument ParseJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new InvalidModelFileException(path, $"not valid JSON: {e.Message}", e);
        }
    }

    static bool IsByteLevel(JsonElement root)
    {
        string pre = root.TryGetProperty("pre_tokenizer", out var p) ? p.GetRawText() : "";
        string dec = root.TryGetProperty("decoder", out var d) ? d.GetRawText() : "";
        return pre.Contains("\"ByteLevel\"", StringComparison.Ordinal) || dec.Contains("\"ByteLevel\"", StringComparison.Ordinal);
    }

    /// <summary>llama.cpp's pre-tokenizer name for the Split regexes this file uses.</summary>
    static string PreName(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object) return "gpt-2";
        var regexes = new List<string>();
        CollectRegexes(pre, regexes);
        return PreTokenizerPatterns.NameOf(regexes);
    }

    static void CollectRegexes(JsonElement e, List<string> into)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            if (e.TryGetProperty("pattern", out var p) && p.ValueKind == JsonValueKind.Object
                && p.TryGetProperty("Regex", out var r) && r.GetString() is { } s)
                into.Add(s);
            foreach (var prop in e.EnumerateObject())
                if (prop.Name != "pattern") CollectRegexes(prop.Value, into);
        }
        else if (e.ValueKind == JsonValueKind.Array)
            foreach (var x in e.EnumerateArray()) CollectRegexes(x, into);
    }

    static string[] ReadMerges(JsonElement model, string path)
    {
        if (!model.TryGetProperty("merges", out var merges) || merges.ValueKind != JsonValueKind.Array)
            throw new InvalidModelFileException(path, "model.merges is missing");
        var list = new string[merges.GetArrayLength()];
        int i = 0;
        foreach (var m in merges.EnumerateArray())
        {
            list[i] = m.ValueKind switch
            {
                JsonValueKind.String => m.GetString()!,
                JsonValueKind.Array when m.GetArrayLength() == 2 => m[0].GetString() + " " + m[1].GetString(),
                _ => throw new InvalidModelFileException(path, $"merge {i} is neither \"a b\" nor [\"a\", \"b\"]"),
            };
            i++;
        }
        return list;
    }

    sealed record HfConfig(string? Bos, string? Eos, string? Unk, string? Pad, bool? AddBos, bool? AddEos, string? ChatTemplate,
        string? Name = null, string? Cls = null, string? Sep = null);

    static HfConfig ReadConfig(string path)
    {
        if (!File.Exists(path)) return new(null, null, null, null, null, null, null);
        try
        {
            return ReadConfigUnchecked(path);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException)
        {
            throw new InvalidModelFileException(path, $"unexpected JSON structure: {e.Message}", e);
        }
    }

    static HfConfig ReadConfigUnchecked(string path)
    {
        using var doc = ParseJson(path);
        var c = doc.RootElement;
        if (c.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(path, "not a JSON object");
        return new(TokenString(c, "bos_token"), TokenString(c, "eos_token"), TokenString(c, "unk_token"), TokenString(c, "pad_token"),
            Bool(c, "add_bos_token"), Bool(c, "add_eos_token"), Template(c),
            c.TryGetProperty("name_or_path", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null,
            TokenString(c, "cls_token"), TokenString(c, "sep_token"));
    }

    static string? TokenString(JsonElement c, string key) =>
        !c.TryGetProperty(key, out var v) ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var s) ? s.GetString() : null;

    static bool? Bool(JsonElement c, string key) =>
        c.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    static string? Template(JsonElement c)
    {
        if (!c.TryGetProperty("chat_template", out var v)) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        if (v.ValueKind == JsonValueKind.Array) // [{name, template}, ...]: the one named "default"
            foreach (var t in v.EnumerateArray())
                if (t.TryGetProperty("name", out var name) && name.GetString() == "default")
                    return t.GetProperty("template").GetString();
        return null;
    }
}
