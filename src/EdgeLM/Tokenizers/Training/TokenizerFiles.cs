// Writes a trained byte-level BPE vocabulary as the files other tools load: tokenizer.json in the
// Hugging Face `tokenizers` layout (NFC normalizer; Split with the family's regex + ByteLevel
// pre-tokenizer, or GPT-2's ByteLevel with its own regex; BPE model with vocab and merges;
// ByteLevel decoder; special tokens in added_tokens), tokenizer_config.json, and a vocab-only GGUF
// (general.* and gpt2.* placeholders llama.cpp needs to open the file, then tokenizer.ggml.*).
// All three are written under temporary names and renamed only when all are complete, so a failure
// or cancellation never leaves a half-written file. Not a general tokenizer.json writer.
using System.Text.Json;
using EdgeLM.Formats.Gguf;

namespace EdgeLM.Tokenizers.Training;

public static class TokenizerFiles
{
    // The regexes of tokenizer.json files llama.cpp recognises as llama-bpe and qwen2 (their Split patterns).
    const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public const string JsonName = "tokenizer.json", ConfigName = "tokenizer_config.json", GgufName = "tokenizer.gguf";

    /// <summary>Writes DIR/tokenizer.json, DIR/tokenizer_config.json and DIR/tokenizer.gguf; returns their paths.</summary>
    public static string[] Write(TokenizerData data, string dir, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(dir);
        string[] names = [JsonName, ConfigName, GgufName];
        string tag = $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var temps = Array.ConvertAll(names, n => Path.Combine(dir, n + tag));
        try
        {
            File.WriteAllBytes(temps[0], TokenizerJson(data));
            cancel.ThrowIfCancellationRequested();
            File.WriteAllBytes(temps[1], ConfigJson(data));
            cancel.ThrowIfCancellationRequested();
            Gguf(data).Write(temps[2], cancel);
            cancel.ThrowIfCancellationRequested();
            var finals = Array.ConvertAll(names, n => Path.Combine(dir, n));
            for (int i = 0; i < names.Length; i++) File.Move(temps[i], finals[i], overwrite: true);
            return finals;
        }
        finally
        {
            foreach (string t in temps)
                if (File.Exists(t)) File.Delete(t);
        }
    }

    /// <summary>The vocab-only GGUF writer: llama.cpp's loader requires an architecture and its hyperparameters.</summary>
    public static GgufWriter Gguf(TokenizerData data)
    {
        var w = new GgufWriter();
        w.Set("general.architecture", "gpt2");
        w.Set("general.name", "edgelm-bpe");
        w.Set("general.file_type", 0u);
        w.Set("gpt2.context_length", 2048u);
        w.Set("gpt2.embedding_length", 64u);
        w.Set("gpt2.feed_forward_length", 256u);
        w.Set("gpt2.block_count", 1u);
        w.Set("gpt2.attention.head_count", 1u);
        w.Set("gpt2.attention.layer_norm_epsilon", 1e-5f);
        data.WriteTo(w);
        return w;
    }

    public static byte[] TokenizerJson(TokenizerData data)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteString("version", "1.0");
            j.WriteNull("truncation");
            j.WriteNull("padding");
            j.WriteStartArray("added_tokens");
            for (int i = 0; i < data.VocabSize; i++)
                if (data.Types[i] is TokenType.Control or TokenType.UserDefined) AddedToken(j, i, data.Tokens[i], data.Types[i] == TokenType.Control);
            j.WriteEndArray();
            j.WriteStartObject("normalizer");
            j.WriteString("type", "NFC");
            j.WriteEndObject();
            PreTokenizerJson(j, data.Pre);
            ByteLevel(j, "post_processor", addPrefixSpace: false, trimOffsets: false, useRegex: false);
            ByteLevel(j, "decoder", addPrefixSpace: true, trimOffsets: true, useRegex: true);
            ModelJson(j, data);
            j.WriteEndObject();
        }
        return ms.ToArray();
    }

    static void AddedToken(Utf8JsonWriter j, int id, string content, bool special)
    {
        j.WriteStartObject();
        j.WriteNumber("id", id);
        j.WriteString("content", content);
        j.WriteBoolean("single_word", false);
        j.WriteBoolean("lstrip", false);
        j.WriteBoolean("rstrip", false);
        j.WriteBoolean("normalized", false);
        j.WriteBoolean("special", special);
        j.WriteEndObject();
    }

    static void PreTokenizerJson(Utf8JsonWriter j, string pre)
    {
        if (pre == "gpt-2")
        {
            ByteLevel(j, "pre_tokenizer", addPrefixSpace: false, trimOffsets: true, useRegex: true);
            return;
        }
        string regex = pre switch
        {
            "qwen2" => Qwen2Regex,
            "llama-bpe" => Llama3Regex,
            _ => throw new NotSupportedException($"pre-tokenizer '{pre}' has no tokenizer.json regex here"),
        };
        j.WriteStartObject("pre_tokenizer");
        j.WriteString("type", "Sequence");
        j.WriteStartArray("pretokenizers");
        j.WriteStartObject();
        j.WriteString("type", "Split");
        j.WriteStartObject("pattern");
        j.WriteString("Regex", regex);
        j.WriteEndObject();
        j.WriteString("behavior", "Isolated");
        j.WriteBoolean("invert", false);
        j.WriteEndObject();
        ByteLevel(j, null, addPrefixSpace: false, trimOffsets: false, useRegex: false);
        j.WriteEndArray();
        j.WriteEndObject();
    }

    static void ByteLevel(Utf8JsonWriter j, string? name, bool addPrefixSpace, bool trimOffsets, bool useRegex)
    {
        if (name is null) j.WriteStartObject();
        else j.WriteStartObject(name);
        j.WriteString("type", "ByteLevel");
        j.WriteBoolean("add_prefix_space", addPrefixSpace);
        j.WriteBoolean("trim_offsets", trimOffsets);
        j.WriteBoolean("use_regex", useRegex);
        j.WriteEndObject();
    }

    static void ModelJson(Utf8JsonWriter j, TokenizerData data)
    {
        j.WriteStartObject("model");
        j.WriteString("type", "BPE");
        j.WriteNull("dropout");
        j.WriteNull("unk_token");
        j.WriteNull("continuing_subword_prefix");
        j.WriteNull("end_of_word_suffix");
        j.WriteBoolean("fuse_unk", false);
        j.WriteBoolean("byte_fallback", false);
        j.WriteBoolean("ignore_merges", false);
        j.WriteStartObject("vocab");
        for (int i = 0; i < data.VocabSize; i++) j.WriteNumber(data.Tokens[i], i);
        j.WriteEndObject();
        j.WriteStartArray("merges");
        foreach (string m in data.Merges)
        {
            int sp = m.IndexOf(' ', StringComparison.Ordinal);
            j.WriteStartArray();
            j.WriteStringValue(m.AsSpan(0, sp));
            j.WriteStringValue(m.AsSpan(sp + 1));
            j.WriteEndArray();
        }
        j.WriteEndArray();
        j.WriteEndObject();
    }

    public static byte[] ConfigJson(TokenizerData data)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteBoolean("add_bos_token", data.AddBos);
            j.WriteBoolean("add_eos_token", data.AddEos);
            if (data.BosId >= 0) j.WriteString("bos_token", data.Tokens[data.BosId]);
            else j.WriteNull("bos_token");
            if (data.EosId >= 0) j.WriteString("eos_token", data.Tokens[data.EosId]);
            else j.WriteNull("eos_token");
            j.WriteNull("pad_token");
            j.WriteNull("unk_token");
            j.WriteBoolean("clean_up_tokenization_spaces", false);
            j.WriteNumber("model_max_length", 131072);
            j.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            j.WriteStartObject("added_tokens_decoder");
            for (int i = 0; i < data.VocabSize; i++)
            {
                if (data.Types[i] is not (TokenType.Control or TokenType.UserDefined)) continue;
                j.WriteStartObject(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                j.WriteString("content", data.Tokens[i]);
                j.WriteBoolean("lstrip", false);
                j.WriteBoolean("normalized", false);
                j.WriteBoolean("rstrip", false);
                j.WriteBoolean("single_word", false);
                j.WriteBoolean("special", data.Types[i] == TokenType.Control);
                j.WriteEndObject();
            }
            j.WriteEndObject();
            j.WriteEndObject();
        }
        return ms.ToArray();
    }
}
