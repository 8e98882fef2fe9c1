// TokenizerData from a SentencePiece-style BPE tokenizer.json (Llama 2, Mistral, TinyLlama, and what
// TokenizerJson writes from a "llama" GGUF vocabulary): a BPE model over '▁'-escaped text, with
// byte_fallback "<0xHH>" tokens, either a Prepend('▁') + Replace(' ', '▁') normalizer or a Metaspace
// pre-tokenizer. It becomes a "llama" vocabulary. SentencePiece BPE ranks merges by the merged
// piece's score, which tokenizer.json does not carry: each piece's score is minus the rank of the
// first merge that builds it, so the merge order (and llama.cpp's result) is kept. Not handled:
// Metaspace with split = true (whitespace-split words), which no SentencePiece model does.
using System.Text.Json;
using EdgeLM.Formats;

namespace EdgeLM.Tokenizers;

public sealed partial record TokenizerData
{
    static bool IsSentencePieceBpe(JsonElement root, JsonElement model)
    {
        if (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True) return true;
        string norm = root.TryGetProperty("normalizer", out var n) ? n.GetRawText() : "";
        string pre = root.TryGetProperty("pre_tokenizer", out var p) ? p.GetRawText() : "";
        return pre.Contains("\"Metaspace\"", StringComparison.Ordinal) || norm.Contains('\u2581')
            || norm.Contains("\\u2581", StringComparison.OrdinalIgnoreCase);
    }

    static TokenizerData FromHfSentencePiece(JsonElement root, JsonElement model, string path, HfConfig config)
    {
        string? unkText = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : config.Unk;
        bool byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
        var (tokens, types) = ReadVocab(root, model, path, unkText, byteFallback);
        var ids = FirstIds(tokens);
        int Lookup(string? text) => text is not null && ids.TryGetValue(text, out int id) ? id : -1;
        string? bos = config.Bos ?? (ids.ContainsKey("<s>") ? "<s>" : null);
        string? eos = config.Eos ?? (ids.ContainsKey("</s>") ? "</s>" : null);
        return new TokenizerData
        {
            Model = "llama",
            Tokens = tokens,
            Scores = ScoresFromMerges(model, path, tokens),
            Types = types,
            BosId = Lookup(bos),
            EosId = Lookup(eos),
            UnkId = Lookup(unkText),
            PadId = Lookup(config.Pad),
            AddBos = config.AddBos ?? PostProcessorAdds(root, bos),
            AddEos = config.AddEos ?? PostProcessorAdds(root, eos),
            AddSpacePrefix = AddsDummyPrefix(root),
            ChatTemplate = config.ChatTemplate,
            ModelName = config.Name,
        };
    }

    /// <summary>True when the normalizer prepends '▁' or the Metaspace pre-tokenizer adds a prefix space.</summary>
    static bool AddsDummyPrefix(JsonElement root)
    {
        if (root.TryGetProperty("normalizer", out var n) && n.ValueKind == JsonValueKind.Object && HasPrepend(n)) return true;
        if (!root.TryGetProperty("pre_tokenizer", out var p) || p.ValueKind != JsonValueKind.Object) return false;
        var meta = FindType(p, "Metaspace");
        if (meta is not { } m) return false;
        if (m.TryGetProperty("prepend_scheme", out var scheme) && scheme.ValueKind == JsonValueKind.String)
            return scheme.GetString() is "first" or "always";
        return !m.TryGetProperty("add_prefix_space", out var aps) || aps.ValueKind != JsonValueKind.False;
    }

    static bool HasPrepend(JsonElement e) => FindType(e, "Prepend") is { } p
        && p.TryGetProperty("prepend", out var v) && v.GetString() == "\u2581";

    /// <summary>The first object (depth-first) whose "type" is <paramref name="type"/>.</summary>
    static JsonElement? FindType(JsonElement e, string type)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            if (e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == type) return e;
            foreach (var p in e.EnumerateObject())
                if (FindType(p.Value, type) is { } found) return found;
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var x in e.EnumerateArray())
                if (FindType(x, type) is { } found) return found;
        }
        return null;
    }

    static float[] ScoresFromMerges(JsonElement model, string path, string[] tokens)
    {
        var scores = new float[tokens.Length];
        var done = new bool[tokens.Length];
        var ids = FirstIds(tokens);
        if (!model.TryGetProperty("merges", out var merges) || merges.ValueKind != JsonValueKind.Array) return scores;
        int rank = 0;
        foreach (var m in merges.EnumerateArray())
        {
            string merged = m.ValueKind switch
            {
                JsonValueKind.String when m.GetString() is { Length: > 2 } s && s.IndexOf(' ', 1) is int sp and > 0 => s.Remove(sp, 1),
                JsonValueKind.Array when m.GetArrayLength() == 2 => m[0].GetString() + m[1].GetString(),
                _ => throw new InvalidModelFileException(path, $"merge {rank} is neither \"a b\" nor [\"a\", \"b\"]"),
            };
            if (ids.TryGetValue(merged, out int id) && !done[id])
            {
                done[id] = true;
                scores[id] = -rank;
            }
            rank++;
        }
        return scores;
    }
}
