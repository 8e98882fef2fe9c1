// Writes a TokenizerData (from GGUF metadata, a .model file, or training) as a Hugging Face
// tokenizer.json plus tokenizer_config.json, in the layout the `tokenizers` library and
// transformers save: byte-level BPE with the family's Split regexes (PreTokenizerPatterns) and a
// ByteLevel pre-tokenizer/decoder; SentencePiece BPE as HF writes Llama 2 (Prepend/Replace '▁'
// normalizer, byte_fallback BPE whose merges are derived from the pieces' scores, Replace/ByteFallback/
// Fuse/Strip decoder); Unigram and WordPiece in their own partial files. The config carries BOS/EOS/
// unk/pad, add_bos/add_eos, the chat template and general.name (as name_or_path, which llama.cpp's
// per-model token attributes key on). TokenizerData.FromHuggingFace reads all of these back.
using System.Globalization;
using System.Text.Json;
using EdgeLM.Formats;

namespace EdgeLM.Tokenizers;

public static partial class TokenizerJson
{
    public const string JsonName = "tokenizer.json", ConfigName = "tokenizer_config.json";

    /// <summary>Writes DIR/tokenizer.json and DIR/tokenizer_config.json (each atomically); returns their paths.</summary>
    public static string[] WriteFolder(TokenizerData data, string dir)
    {
        ArgumentNullException.ThrowIfNull(data);
        Directory.CreateDirectory(dir);
        byte[] json = Write(data), config = WriteConfig(data);
        string a = Path.Combine(dir, JsonName), b = Path.Combine(dir, ConfigName);
        AtomicFile.Write(a, s => s.Write(json));
        AtomicFile.Write(b, s => s.Write(config));
        return [a, b];
    }

    /// <summary>tokenizer.json for any vocabulary kind EdgeLM loads.</summary>
    public static byte[] Write(TokenizerData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteString("version", "1.0");
            j.WriteNull("truncation");
            j.WriteNull("padding");
            AddedTokens(j, data);
            switch (data.Model)
            {
                case "gpt2": ByteLevelBody(j, data); break;
                case "llama": SentencePieceBody(j, data); break;
                case "bert": WordPieceBody(j, data); break;
                case "t5": UnigramBody(j, data); break;
                default: throw new NotSupportedException($"tokenizer model '{data.Model}' has no tokenizer.json form here");
            }
            j.WriteEndObject();
        }
        return ms.ToArray();
    }

    /// <summary>Tokens Hugging Face lists in added_tokens: control, user-defined and the unknown token.</summary>
    static bool IsAdded(TokenizerData data, int id) =>
        data.Types[id] is TokenType.Control or TokenType.UserDefined || (data.Types[id] == TokenType.Unknown && data.Model != "gpt2");

    /// <summary>A token's text as tokenizer.json spells it (WordPiece: BERT's "##" form).</summary>
    static string Content(TokenizerData data, int id) => data.Model == "bert" ? BertPiece(data.Tokens[id]) : data.Tokens[id];

    static void AddedTokens(Utf8JsonWriter j, TokenizerData data)
    {
        bool[] rstrip = Tokenizer.RStripFlags(data);
        j.WriteStartArray("added_tokens");
        for (int i = 0; i < data.VocabSize; i++)
        {
            if (!IsAdded(data, i)) continue;
            j.WriteStartObject();
            j.WriteNumber("id", i);
            j.WriteString("content", Content(data, i));
            j.WriteBoolean("single_word", false);
            j.WriteBoolean("lstrip", false);
            j.WriteBoolean("rstrip", rstrip[i]);
            j.WriteBoolean("normalized", false);
            j.WriteBoolean("special", data.Types[i] != TokenType.UserDefined);
            j.WriteEndObject();
        }
        j.WriteEndArray();
    }

    // ---- byte-level BPE -------------------------------------------------------------------------

    static void ByteLevelBody(Utf8JsonWriter j, TokenizerData data)
    {
        // No normalizer: llama.cpp (and so EdgeLM) encodes byte-level BPE text as it is, so an NFC
        // normalizer here would make Hugging Face split non-NFC text differently from the GGUF.
        j.WriteNull("normalizer");
        ByteLevelPreTokenizer(j, data.Pre);
        ByteLevel(j, "post_processor", addPrefixSpace: false, trimOffsets: false, useRegex: false);
        ByteLevel(j, "decoder", addPrefixSpace: true, trimOffsets: true, useRegex: true);
        j.WriteStartObject("model");
        j.WriteString("type", "BPE");
        j.WriteNull("dropout");
        j.WriteNull("unk_token");
        j.WriteNull("continuing_subword_prefix");
        j.WriteNull("end_of_word_suffix");
        j.WriteBoolean("fuse_unk", false);
        j.WriteBoolean("byte_fallback", false);
        // llama.cpp's Llama 3 family emits a pre-token that is itself a token whole (BpeEncoder).
        j.WriteBoolean("ignore_merges", TokenizerData.IsLlama3Family(data.Pre));
        Vocab(j, data);
        Merges(j, SplitMerges(data.Merges));
        j.WriteEndObject();
    }

    static void ByteLevelPreTokenizer(Utf8JsonWriter j, string pre)
    {
        string[] regexes = PreTokenizerPatterns.RegexesFor(pre)
            ?? throw new NotSupportedException($"pre-tokenizer '{pre}' has no tokenizer.json form here");
        if (PreTokenizerPatterns.NameOf(regexes) == "gpt-2")
        {
            ByteLevel(j, "pre_tokenizer", addPrefixSpace: false, trimOffsets: true, useRegex: true);
            return;
        }
        j.WriteStartObject("pre_tokenizer");
        j.WriteString("type", "Sequence");
        j.WriteStartArray("pretokenizers");
        foreach (string regex in regexes)
        {
            j.WriteStartObject();
            j.WriteString("type", "Split");
            j.WriteStartObject("pattern");
            j.WriteString("Regex", regex);
            j.WriteEndObject();
            j.WriteString("behavior", "Isolated");
            j.WriteBoolean("invert", false);
            j.WriteEndObject();
        }
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

    static void Vocab(Utf8JsonWriter j, TokenizerData data)
    {
        j.WriteStartObject("vocab");
        for (int i = 0; i < data.VocabSize; i++) j.WriteNumber(data.Tokens[i], i);
        j.WriteEndObject();
    }

    static IEnumerable<(string, string)> SplitMerges(string[] merges)
    {
        foreach (string m in merges)
        {
            int sp = m.Length > 1 ? m.IndexOf(' ', 1) : -1;
            if (sp >= 0) yield return (m[..sp], m[(sp + 1)..]); // not "left right": llama.cpp skips it too
        }
    }

    static void Merges(Utf8JsonWriter j, IEnumerable<(string Left, string Right)> merges)
    {
        j.WriteStartArray("merges");
        foreach (var (left, right) in merges)
        {
            j.WriteStartArray();
            j.WriteStringValue(left);
            j.WriteStringValue(right);
            j.WriteEndArray();
        }
        j.WriteEndArray();
    }

    // ---- tokenizer_config.json ------------------------------------------------------------------

    public static byte[] WriteConfig(TokenizerData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteBoolean("add_bos_token", data.AddBos);
            j.WriteBoolean("add_eos_token", data.AddEos);
            TokenOrNull(j, "bos_token", data, data.BosId);
            TokenOrNull(j, "eos_token", data, data.EosId);
            TokenOrNull(j, "unk_token", data, data.UnkId);
            TokenOrNull(j, "pad_token", data, data.PadId);
            if (data.Model == "bert") BertConfig(j, data);
            if (data.ChatTemplate is not null) j.WriteString("chat_template", data.ChatTemplate);
            if (data.ModelName is not null) j.WriteString("name_or_path", data.ModelName);
            j.WriteBoolean("clean_up_tokenization_spaces", false);
            j.WriteNumber("model_max_length", 131072);
            j.WriteString("tokenizer_class", data.Model switch
            {
                "llama" => "LlamaTokenizerFast",
                "bert" => "BertTokenizerFast",
                "t5" => "T5TokenizerFast",
                _ => "PreTrainedTokenizerFast",
            });
            bool[] rstrip = Tokenizer.RStripFlags(data);
            j.WriteStartObject("added_tokens_decoder");
            for (int i = 0; i < data.VocabSize; i++)
            {
                if (!IsAdded(data, i)) continue;
                j.WriteStartObject(i.ToString(CultureInfo.InvariantCulture));
                j.WriteString("content", Content(data, i));
                j.WriteBoolean("lstrip", false);
                j.WriteBoolean("normalized", false);
                j.WriteBoolean("rstrip", rstrip[i]);
                j.WriteBoolean("single_word", false);
                j.WriteBoolean("special", data.Types[i] != TokenType.UserDefined);
                j.WriteEndObject();
            }
            j.WriteEndObject();
            j.WriteEndObject();
        }
        return ms.ToArray();
    }

    static void TokenOrNull(Utf8JsonWriter j, string key, TokenizerData data, int id)
    {
        if (id >= 0) j.WriteString(key, Content(data, id));
        else j.WriteNull(key);
    }
}
