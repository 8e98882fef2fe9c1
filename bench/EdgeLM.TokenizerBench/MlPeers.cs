// Microsoft.ML.Tokenizers built from the same vocabulary files: byte-level BPE vocabularies through
// BpeTokenizer (vocabulary + merges, ByteLevel) and TiktokenTokenizer (ranks = ids, the token bytes
// base64-encoded as in a .tiktoken file), each with the vocabulary's pre-tokenizer regex;
// SentencePiece vocabularies through LlamaTokenizer on a ModelProto written from the GGUF data
// (sentencepiece_model.proto: pieces, trainer_spec, normalizer_spec). Only user-defined tokens are
// passed as special tokens, because llama.cpp without parse_special splits those alone.
using System.Text;
using System.Text.RegularExpressions;
using EdgeLM.Tokenizers;
using Ml = Microsoft.ML.Tokenizers;

namespace EdgeLM.TokenizerBench;

internal static class MlPeers
{
    /// <summary>(loader name, tokenizer or the reason it could not be built).</summary>
    public static List<(string Loader, Ml.Tokenizer? Tok, string? Error)> For(Vocab v)
    {
        var list = new List<(string, Ml.Tokenizer?, string?)>();
        if (v.Data.IsSentencePiece)
        {
            list.Add(Try("LlamaTokenizer", () => Ml.LlamaTokenizer.Create(new MemoryStream(SentencePieceModel(v.Data)), false, false, UserDefined(v.Data))));
            return list;
        }
        if (v.Regex is null)
        {
            list.Add(("BpeTokenizer/TiktokenTokenizer", null, $"pre-tokenizer '{v.Data.Pre}' is several regexes in sequence; one RegexPreTokenizer cannot express it"));
            return list;
        }
        var specials = UserDefined(v.Data);
        Ml.PreTokenizer Pre() => new Ml.RegexPreTokenizer(new Regex(v.Regex, RegexOptions.Compiled), specials);
        list.Add(Try("BpeTokenizer", () => Ml.BpeTokenizer.Create(new Ml.BpeOptions(Vocabulary(v.Data))
        {
            Merges = v.Data.Merges,
            ByteLevel = true,
            PreTokenizer = Pre(),
            SpecialTokens = specials,
        })));
        list.Add(Try("TiktokenTokenizer", () => Ml.TiktokenTokenizer.Create(new MemoryStream(TiktokenRanks(v.Data)), Pre(), null, specials)));
        return list;
    }

    static (string, Ml.Tokenizer?, string?) Try(string name, Func<Ml.Tokenizer> make)
    {
        try
        {
            return (name, make(), null);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or NotSupportedException or IOException)
        {
            return (name, null, e.GetType().Name + ": " + e.Message);
        }
    }

    static Dictionary<string, int> UserDefined(TokenizerData d)
    {
        var r = new Dictionary<string, int>();
        for (int i = 0; i < d.VocabSize; i++)
            if (d.Types[i] == TokenType.UserDefined) r[d.Tokens[i]] = i;
        return r;
    }

    static IEnumerable<KeyValuePair<string, int>> Vocabulary(TokenizerData d)
    {
        var seen = new HashSet<string>();
        for (int i = 0; i < d.VocabSize; i++)
            if (d.Types[i] == TokenType.Normal && seen.Add(d.Tokens[i])) yield return new(d.Tokens[i], i);
    }

    static byte[] TiktokenRanks(TokenizerData d)
    {
        var tok = new Tokenizer(d);
        var sb = new StringBuilder();
        for (int i = 0; i < d.VocabSize; i++)
            if (d.Types[i] == TokenType.Normal && !tok.TokenBytes(i).IsEmpty) // the format has no empty token
                sb.Append(Convert.ToBase64String(tok.TokenBytes(i))).Append(' ').Append(i).Append('\n');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    // ---- a SentencePiece ModelProto (protobuf wire format) ------------------------------------------

    static byte[] SentencePieceModel(TokenizerData d)
    {
        var model = new MemoryStream();
        for (int i = 0; i < d.VocabSize; i++)
        {
            var piece = new MemoryStream();
            Bytes(piece, 1, Encoding.UTF8.GetBytes(d.Tokens[i]));
            Fixed32(piece, 2, d.Scores is null ? 0f : d.Scores[i]);
            Varint(piece, 3, (ulong)d.Types[i]); // GGUF token types use SentencePiece's numbering
            Bytes(model, 1, piece.ToArray());
        }
        var trainer = new MemoryStream();
        Varint(trainer, 3, 2); // model_type BPE
        Varint(trainer, 4, (ulong)d.VocabSize);
        Varint(trainer, 35, 1); // byte_fallback
        Varint(trainer, 40, (ulong)(long)d.UnkId);
        Varint(trainer, 41, (ulong)(long)d.BosId);
        Varint(trainer, 42, (ulong)(long)d.EosId);
        Varint(trainer, 43, (ulong)(long)d.PadId);
        Bytes(model, 2, trainer.ToArray());
        var normalizer = new MemoryStream();
        Bytes(normalizer, 1, "identity"u8.ToArray());
        Varint(normalizer, 3, d.AddSpacePrefix ? 1UL : 0UL);
        Varint(normalizer, 4, 0); // remove_extra_whitespaces: llama.cpp keeps them
        Varint(normalizer, 5, 1); // escape_whitespaces
        Bytes(model, 3, normalizer.ToArray());
        return model.ToArray();
    }

    static void Tag(Stream s, int field, int wire) => Raw(s, (ulong)((field << 3) | wire));

    static void Raw(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    static void Varint(Stream s, int field, ulong v) { Tag(s, field, 0); Raw(s, v); }

    static void Fixed32(Stream s, int field, float f) { Tag(s, field, 5); s.Write(BitConverter.GetBytes(f)); }

    static void Bytes(Stream s, int field, byte[] b) { Tag(s, field, 2); Raw(s, (ulong)b.Length); s.Write(b); }
}
