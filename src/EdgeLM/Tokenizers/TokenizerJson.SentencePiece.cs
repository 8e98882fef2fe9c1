// tokenizer.json for a SentencePiece BPE vocabulary ("llama"), as Hugging Face writes Llama 2's:
// a byte_fallback BPE model over '▁'-escaped text with no pre-tokenizer. SentencePiece BPE merges the
// adjacent pair whose concatenation has the highest score; a BPE model needs ranked merges instead,
// so they are derived the way transformers' SentencePieceExtractor does: every split of every piece
// into two pieces, ordered by the whole piece's score (best first), ties by the halves' ids. Reading
// back, a piece's score is minus the rank of its first merge, which keeps the order of scores.
using System.Text.Json;

namespace EdgeLM.Tokenizers;

public static partial class TokenizerJson
{
    static void SentencePieceBody(Utf8JsonWriter j, TokenizerData data)
    {
        j.WriteStartObject("normalizer");
        j.WriteString("type", "Sequence");
        j.WriteStartArray("normalizers");
        if (data.AddSpacePrefix)
        {
            j.WriteStartObject();
            j.WriteString("type", "Prepend");
            j.WriteString("prepend", "\u2581");
            j.WriteEndObject();
        }
        Replace(j, " ", "\u2581");
        j.WriteEndArray();
        j.WriteEndObject();
        j.WriteNull("pre_tokenizer");
        TemplatePostProcessor(j, data);
        j.WriteStartObject("decoder");
        j.WriteString("type", "Sequence");
        j.WriteStartArray("decoders");
        Replace(j, "\u2581", " ");
        j.WriteStartObject();
        j.WriteString("type", "ByteFallback");
        j.WriteEndObject();
        j.WriteStartObject();
        j.WriteString("type", "Fuse");
        j.WriteEndObject();
        if (data.AddSpacePrefix)
        {
            j.WriteStartObject();
            j.WriteString("type", "Strip");
            j.WriteString("content", " ");
            j.WriteNumber("start", 1);
            j.WriteNumber("stop", 0);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteEndObject();

        j.WriteStartObject("model");
        j.WriteString("type", "BPE");
        j.WriteNull("dropout");
        if (data.UnkId >= 0) j.WriteString("unk_token", data.Tokens[data.UnkId]);
        else j.WriteNull("unk_token");
        j.WriteNull("continuing_subword_prefix");
        j.WriteNull("end_of_word_suffix");
        j.WriteBoolean("fuse_unk", true);
        j.WriteBoolean("byte_fallback", true);
        j.WriteBoolean("ignore_merges", false);
        Vocab(j, data);
        Merges(j, SentencePieceMerges(data));
        j.WriteEndObject();
    }

    static void Replace(Utf8JsonWriter j, string from, string to)
    {
        j.WriteStartObject();
        j.WriteString("type", "Replace");
        j.WriteStartObject("pattern");
        j.WriteString("String", from);
        j.WriteEndObject();
        j.WriteString("content", to);
        j.WriteEndObject();
    }

    /// <summary>TemplateProcessing that adds BOS / EOS as the vocabulary's add_bos / add_eos say.</summary>
    static void TemplatePostProcessor(Utf8JsonWriter j, TokenizerData data)
    {
        int bos = data.AddBos ? data.BosId : -1, eos = data.AddEos ? data.EosId : -1;
        if (bos < 0 && eos < 0)
        {
            j.WriteNull("post_processor");
            return;
        }
        j.WriteStartObject("post_processor");
        j.WriteString("type", "TemplateProcessing");
        foreach (string kind in (string[])["single", "pair"])
        {
            j.WriteStartArray(kind);
            foreach (string seq in kind == "single" ? ["A"] : (string[])["A", "B"])
            {
                if (bos >= 0) TemplatePiece(j, "SpecialToken", data.Tokens[bos], seq == "A" ? 0 : 1);
                TemplatePiece(j, "Sequence", seq, seq == "A" ? 0 : 1);
                if (eos >= 0) TemplatePiece(j, "SpecialToken", data.Tokens[eos], seq == "A" ? 0 : 1);
            }
            j.WriteEndArray();
        }
        j.WriteStartObject("special_tokens");
        foreach (int id in bos == eos ? [bos] : (int[])[bos, eos])
        {
            if (id < 0) continue;
            j.WriteStartObject(data.Tokens[id]);
            j.WriteString("id", data.Tokens[id]);
            j.WriteStartArray("ids");
            j.WriteNumberValue(id);
            j.WriteEndArray();
            j.WriteStartArray("tokens");
            j.WriteStringValue(data.Tokens[id]);
            j.WriteEndArray();
            j.WriteEndObject();
        }
        j.WriteEndObject();
        j.WriteEndObject();
    }

    static void TemplatePiece(Utf8JsonWriter j, string kind, string id, int typeId)
    {
        j.WriteStartObject();
        j.WriteStartObject(kind);
        j.WriteString("id", id);
        j.WriteNumber("type_id", typeId);
        j.WriteEndObject();
        j.WriteEndObject();
    }

    /// <summary>The merges for a SentencePiece BPE vocabulary, best first (pairs: a piece may hold a space).</summary>
    internal static List<(string Left, string Right)> SentencePieceMerges(TokenizerData data)
    {
        var ids = new Dictionary<string, int>(data.VocabSize, StringComparer.Ordinal);
        for (int i = 0; i < data.VocabSize; i++) ids[data.Tokens[i]] = i; // the last of equal texts wins, as in llama.cpp
        var found = new List<(float Score, int Left, int Right)>();
        var lookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int i = 0; i < data.VocabSize; i++)
        {
            string t = data.Tokens[i];
            if (ids[t] != i || data.Types[i] == TokenType.Byte) continue;
            float score = data.Scores?[i] ?? 0f;
            for (int k = 1; k < t.Length; k++)
            {
                if (char.IsLowSurrogate(t[k])) continue; // never split a character
                if (lookup.TryGetValue(t.AsSpan(0, k), out int l) && lookup.TryGetValue(t.AsSpan(k), out int r))
                    found.Add((score, l, r));
            }
        }
        found.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Left != b.Left ? a.Left.CompareTo(b.Left) : a.Right.CompareTo(b.Right));
        var merges = new List<(string, string)>(found.Count);
        foreach (var (_, l, r) in found) merges.Add((data.Tokens[l], data.Tokens[r]));
        return merges;
    }
}
