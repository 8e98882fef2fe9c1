// TokenizerData from Hugging Face WordPiece (BERT) and Unigram (T5, ALBERT, XLM-R style)
// tokenizer.json files and from a BERT vocab.txt, mapped as llama.cpp's convert_hf_to_gguf.py maps
// them. WordPiece pieces are rewritten to llama.cpp's "phantom space" form: "##ing" → "ing", a
// word-initial "play" → "▁play", "[CLS]"-style names kept; [CLS] is BOS and [SEP] the separator.
// Unigram keeps the pieces and their log-probability scores, the Precompiled normalizer's charsmap
// (base64), the Metaspace prefix setting and the " {2,}" collapse that stands for SentencePiece's
// remove_extra_whitespaces. Not read: BertNormalizer's lowercase / strip_accents (llama.cpp always
// lowercases and keeps the first code point of each NFD decomposition) and max_input_chars_per_word.
using System.Text.Json;
using EdgeLM.Formats;

namespace EdgeLM.Tokenizers;

public sealed partial record TokenizerData
{
    /// <summary>BERT's piece spelling → llama.cpp's (convert_hf_to_gguf.py BertModel.set_vocab, phantom()).</summary>
    internal static string PhantomSpace(string piece) =>
        piece.StartsWith('[') && piece.EndsWith(']') ? piece
        : piece.StartsWith("##", StringComparison.Ordinal) ? piece[2..]
        : "\u2581" + piece;

    static TokenizerData FromHfWordPiece(JsonElement root, JsonElement model, string path, HfConfig config)
    {
        string? unkText = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : config.Unk;
        // [UNK] stays a control token, as llama.cpp's converter types every special BERT token.
        var (raw, types) = ReadVocab(root, model, path, unkText: null, byteFallback: false);
        return WordPiece(raw, types, path, config with { Unk = unkText ?? "[UNK]" });
    }

    /// <summary>Reads a BERT vocab.txt (one piece per line, the line number is the id) and tokenizer_config.json beside it.</summary>
    public static TokenizerData FromWordPieceVocab(string vocabTxtPath)
    {
        string path = vocabTxtPath;
        string[] lines = File.ReadAllLines(path);
        int n = lines.Length;
        while (n > 0 && lines[n - 1].Length == 0) n--; // a final newline is not a token
        var raw = lines[..n];
        var types = new TokenType[n];
        for (int i = 0; i < n; i++)
            types[i] = raw[i] is "[PAD]" or "[UNK]" or "[CLS]" or "[SEP]" or "[MASK]" ? TokenType.Control : TokenType.Normal;
        var config = ReadConfig(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", "tokenizer_config.json"));
        return WordPiece(raw, types, path, config).Validate(path);
    }

    static TokenizerData WordPiece(string[] raw, TokenType[] types, string path, HfConfig config)
    {
        var ids = FirstIds(raw);
        int Lookup(string? text, string fallback) => ids.TryGetValue(text ?? fallback, out int id) ? id : -1;
        int unk = Lookup(config.Unk, "[UNK]");
        if (unk < 0) throw new InvalidModelFileException(path, $"the unknown token '{config.Unk ?? "[UNK]"}' is not in the vocabulary");
        return new TokenizerData
        {
            Model = "bert",
            Tokens = Array.ConvertAll(raw, PhantomSpace),
            Types = types,
            UnkId = unk,
            BosId = Lookup(config.Cls, "[CLS]"),
            SepId = Lookup(config.Sep, "[SEP]"),
            PadId = Lookup(config.Pad, "[PAD]"),
            EosId = -1,
            AddBos = config.AddBos ?? true,
            ChatTemplate = config.ChatTemplate,
            ModelName = config.Name,
        };
    }

    static TokenizerData FromHfUnigram(JsonElement root, JsonElement model, string path, HfConfig config)
    {
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Array)
            throw new InvalidModelFileException(path, "model.vocab of a Unigram tokenizer.json must be an array of [piece, score]");
        int unkId = model.TryGetProperty("unk_id", out var uid) && uid.TryGetInt32(out int v) ? v : -1;
        bool byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
        var byId = new Dictionary<int, (string, TokenType)>();
        var scoreList = new List<float>();
        foreach (var e in vocab.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2 || e[0].ValueKind != JsonValueKind.String || e[1].ValueKind != JsonValueKind.Number)
                throw new InvalidModelFileException(path, $"Unigram vocab entry {scoreList.Count} is not [piece, score]");
            string piece = e[0].GetString()!;
            int id = scoreList.Count;
            byId[id] = (piece, id == unkId ? TokenType.Unknown : byteFallback && IsByteTokenText(piece) ? TokenType.Byte : TokenType.Normal);
            scoreList.Add((float)e[1].GetDouble());
        }
        if (unkId < 0 || unkId >= scoreList.Count)
            throw new InvalidModelFileException(path, $"model.unk_id {unkId} is not an id of the {scoreList.Count} pieces");
        ReadAddedTokens(root, path, byId[unkId].Item1, byId);
        var (tokens, types) = Dense(byId, path);
        var scores = new float[tokens.Length];
        scoreList.CopyTo(0, scores, 0, Math.Min(scoreList.Count, scores.Length));
        var ids = FirstIds(tokens);
        int Lookup(string? text) => text is not null && ids.TryGetValue(text, out int id) ? id : -1;
        string? eos = config.Eos ?? (ids.ContainsKey("</s>") ? "</s>" : null);
        return new TokenizerData
        {
            Model = "t5",
            Tokens = tokens,
            Scores = scores,
            Types = types,
            UnkId = unkId,
            EosId = Lookup(eos),
            BosId = Lookup(config.Bos),
            PadId = Lookup(config.Pad),
            AddBos = config.AddBos ?? false,
            AddEos = config.AddEos ?? PostProcessorAdds(root, eos),
            AddSpacePrefix = AddsDummyPrefix(root),
            RemoveExtraWhitespaces = CollapsesSpaces(root),
            PrecompiledCharsmap = PrecompiledCharsmapOf(root, path),
            ChatTemplate = config.ChatTemplate,
            ModelName = config.Name,
        };
    }

    static bool CollapsesSpaces(JsonElement root) =>
        root.TryGetProperty("normalizer", out var n) && n.ValueKind == JsonValueKind.Object
        && n.GetRawText().Contains("\" {2,}\"", StringComparison.Ordinal);

    static byte[]? PrecompiledCharsmapOf(JsonElement root, string path)
    {
        if (!root.TryGetProperty("normalizer", out var n) || n.ValueKind != JsonValueKind.Object) return null;
        if (FindType(n, "Precompiled") is not { } p || !p.TryGetProperty("precompiled_charsmap", out var cm) || cm.ValueKind != JsonValueKind.String)
            return null;
        try { return Convert.FromBase64String(cm.GetString()!); }
        catch (FormatException) { throw new InvalidModelFileException(path, "normalizer Precompiled: precompiled_charsmap is not base64"); }
    }
}
