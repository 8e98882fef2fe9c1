// What a training corpus needs from a tokenizer: text to ids (with or without special-token
// parsing), the document-boundary ids, which ids end a turn, and the chat template that comes with
// the vocabulary. Two implementations: one over EdgeLM.Tokenizers.Tokenizer (GGUF, tokenizer.json,
// SentencePiece .model, llama2.c .bin, model folder: the same loaders `edgelm tokenize` uses) and one
// for ByteDataset's byte vocabulary. Not a tokenizer itself.
using System.Text;
using EdgeLM.Templates;
using EdgeLM.Tokenizers;

namespace EdgeLM.Training.Data;

public interface ICorpusTokenizer
{
    int VocabSize { get; }

    /// <summary>The id put before each document, or -1 when the tokenizer's rules add none.</summary>
    int Bos { get; }

    /// <summary>The id put after each document, or -1 when the vocabulary has none.</summary>
    int Eos { get; }

    /// <summary>The chat template shipped with the vocabulary, or null.</summary>
    ChatTemplate? Template { get; }

    int[] Encode(string text, bool parseSpecial);

    /// <summary>True for ids that end a turn or generation (&lt;|im_end|&gt;, &lt;|eot_id|&gt;, EOS...).</summary>
    bool IsEndOfTurn(int id);

    /// <summary>The text the ids stand for, special tokens shown (for reports and tests).</summary>
    string Decode(ReadOnlySpan<int> ids);
}

/// <summary>A corpus tokenizer over an EdgeLM tokenizer and the chat template in the same file.</summary>
public sealed class CorpusTokenizer : ICorpusTokenizer
{
    public CorpusTokenizer(Tokenizer tokenizer, ChatTemplate? template)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        Tokenizer = tokenizer;
        Template = template;
    }

    /// <summary>Loads the tokenizer as <see cref="Tokenizer.Load"/> does, with its chat template
    /// (GGUF tokenizer.chat_template or tokenizer_config.json) when it has one that parses.</summary>
    public static CorpusTokenizer Load(string path)
    {
        var tok = Tokenizer.Load(path);
        return new CorpusTokenizer(tok, TemplateOf(tok));
    }

    /// <summary>The tokenizer's own chat template rendered with its BOS / EOS texts, or null when it
    /// has none. A template that does not parse is an error: training on a silently substituted
    /// format would teach the model a format it is never prompted with.</summary>
    public static ChatTemplate? TemplateOf(Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        string? source = tokenizer.Data.ChatTemplate;
        if (string.IsNullOrEmpty(source)) return null;
        string bos = tokenizer.BosId >= 0 ? tokenizer.TokenText(tokenizer.BosId) : "";
        string eos = tokenizer.EosId >= 0 ? tokenizer.TokenText(tokenizer.EosId) : "";
        return ChatTemplate.Parse(source, new ChatTemplateOptions(bos, eos));
    }

    public Tokenizer Tokenizer { get; }
    public ChatTemplate? Template { get; }
    public int VocabSize => Tokenizer.VocabSize;
    public int Bos => Tokenizer.AddBos ? Tokenizer.BosId : -1;
    public int Eos => Tokenizer.EosId;
    public int[] Encode(string text, bool parseSpecial) => Tokenizer.Encode(text, addBos: false, parseSpecial);
    public bool IsEndOfTurn(int id) => Tokenizer.IsEndOfGeneration(id);
    public string Decode(ReadOnlySpan<int> ids) => Tokenizer.Decode(ids.ToArray());
}

/// <summary>ByteDataset's vocabulary: unk 0, BOS 1, EOS 2, byte b = 3 + b; UTF-8 bytes, no template.</summary>
public sealed class ByteCorpusTokenizer : ICorpusTokenizer
{
    public const int Unk = 0;

    public ByteCorpusTokenizer(ChatTemplate? template = null) => Template = template;

    public int VocabSize => ByteDataset.VocabSize;
    public int Bos => ByteDataset.Bos;
    public int Eos => 2;
    public ChatTemplate? Template { get; }

    /// <summary>Every UTF-8 byte is one id; there are no special tokens to parse.</summary>
    public int[] Encode(string text, bool parseSpecial)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ids[i] = ByteDataset.FirstByte + bytes[i];
        return ids;
    }

    public bool IsEndOfTurn(int id) => id == Eos;

    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>(ids.Length);
        foreach (int id in ids)
            if (id >= ByteDataset.FirstByte && id < ByteDataset.VocabSize) bytes.Add((byte)(id - ByteDataset.FirstByte));
        return Encoding.UTF8.GetString([.. bytes]);
    }
}
