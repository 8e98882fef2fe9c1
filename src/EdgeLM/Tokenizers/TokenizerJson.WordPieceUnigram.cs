// tokenizer.json bodies for WordPiece ("bert") and Unigram ("t5") vocabularies, in the layout
// transformers' converters write for BERT and T5. WordPiece pieces go back from llama.cpp's form to
// BERT's ("▁play" → "play", "ing" → "##ing"); the normalizer is BertNormalizer (lowercase, which
// llama.cpp always applies) and [CLS] … [SEP] the post-processor. Unigram keeps [piece, score]
// pairs, the precompiled charsmap (base64, as the Precompiled normalizer holds it), a " {2,}" → " "
// collapse and a Strip for remove_extra_whitespaces, and a Metaspace pre-tokenizer/decoder for the '▁' prefix.
using System.Text.Json;

namespace EdgeLM.Tokenizers;

public static partial class TokenizerJson
{
    /// <summary>llama.cpp's WordPiece spelling → BERT's (the inverse of convert_hf_to_gguf.py's phantom()).</summary>
    internal static string BertPiece(string token) =>
        token.StartsWith('[') && token.EndsWith(']') ? token
        : token.StartsWith('\u2581') ? token[1..]
        : "##" + token;

    static void WordPieceBody(Utf8JsonWriter j, TokenizerData data)
    {
        j.WriteStartObject("normalizer");
        j.WriteString("type", "BertNormalizer");
        j.WriteBoolean("clean_text", true);
        j.WriteBoolean("handle_chinese_chars", true);
        j.WriteNull("strip_accents");
        j.WriteBoolean("lowercase", true);
        j.WriteEndObject();
        j.WriteStartObject("pre_tokenizer");
        j.WriteString("type", "BertPreTokenizer");
        j.WriteEndObject();
        BertPostProcessor(j, data);
        j.WriteStartObject("decoder");
        j.WriteString("type", "WordPiece");
        j.WriteString("prefix", "##");
        j.WriteBoolean("cleanup", true);
        j.WriteEndObject();
        j.WriteStartObject("model");
        j.WriteString("type", "WordPiece");
        j.WriteString("unk_token", BertPiece(data.Tokens[data.UnkId]));
        j.WriteString("continuing_subword_prefix", "##");
        // llama.cpp (and EdgeLM) cut words of any length; BERT's 100 would make Hugging Face give [UNK]
        // for longer ones, so the written limit is one no text reaches.
        j.WriteNumber("max_input_chars_per_word", 1_000_000_000);
        j.WriteStartObject("vocab");
        for (int i = 0; i < data.VocabSize; i++) j.WriteNumber(BertPiece(data.Tokens[i]), i);
        j.WriteEndObject();
        j.WriteEndObject();
    }

    static void BertPostProcessor(Utf8JsonWriter j, TokenizerData data)
    {
        if (data.BosId < 0 || data.SepId < 0)
        {
            j.WriteNull("post_processor");
            return;
        }
        j.WriteStartObject("post_processor");
        j.WriteString("type", "BertProcessing");
        foreach (var (name, id) in (ReadOnlySpan<(string, int)>)[("sep", data.SepId), ("cls", data.BosId)])
        {
            j.WriteStartArray(name);
            j.WriteStringValue(BertPiece(data.Tokens[id]));
            j.WriteNumberValue(id);
            j.WriteEndArray();
        }
        j.WriteEndObject();
    }

    static void BertConfig(Utf8JsonWriter j, TokenizerData data)
    {
        if (data.BosId >= 0) j.WriteString("cls_token", data.Tokens[data.BosId]);
        if (data.SepId >= 0) j.WriteString("sep_token", data.Tokens[data.SepId]);
        j.WriteBoolean("do_lower_case", true);
    }

    static void UnigramBody(Utf8JsonWriter j, TokenizerData data)
    {
        j.WriteStartObject("normalizer");
        j.WriteString("type", "Sequence");
        j.WriteStartArray("normalizers");
        if (data.PrecompiledCharsmap is not null)
        {
            j.WriteStartObject();
            j.WriteString("type", "Precompiled");
            j.WriteBase64String("precompiled_charsmap", data.PrecompiledCharsmap);
            j.WriteEndObject();
        }
        if (data.RemoveExtraWhitespaces)
        {
            j.WriteStartObject();
            j.WriteString("type", "Replace");
            j.WriteStartObject("pattern");
            j.WriteString("Regex", " {2,}");
            j.WriteEndObject();
            j.WriteString("content", " ");
            j.WriteEndObject();
            // SentencePiece's remove_extra_whitespaces also drops leading and trailing spaces (of each
            // piece of text between special tokens, as llama.cpp's UGM does).
            j.WriteStartObject();
            j.WriteString("type", "Strip");
            j.WriteBoolean("strip_left", true);
            j.WriteBoolean("strip_right", true);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteEndObject();
        Metaspace(j, "pre_tokenizer", data.AddSpacePrefix);
        TemplatePostProcessor(j, data);
        Metaspace(j, "decoder", data.AddSpacePrefix);
        j.WriteStartObject("model");
        j.WriteString("type", "Unigram");
        j.WriteNumber("unk_id", data.UnkId);
        j.WriteStartArray("vocab");
        for (int i = 0; i < data.VocabSize; i++)
        {
            j.WriteStartArray();
            j.WriteStringValue(data.Tokens[i]);
            j.WriteNumberValue(data.Scores![i]);
            j.WriteEndArray();
        }
        j.WriteEndArray();
        j.WriteBoolean("byte_fallback", false);
        j.WriteEndObject();
    }

    static void Metaspace(Utf8JsonWriter j, string name, bool prefix)
    {
        j.WriteStartObject(name);
        j.WriteString("type", "Metaspace");
        j.WriteString("replacement", "\u2581");
        j.WriteString("prepend_scheme", prefix ? "always" : "never");
        j.WriteBoolean("split", true);
        j.WriteEndObject();
    }
}
