// The tokenizer a training run uses, and what the exported model.gguf says about it: the byte
// vocabulary ByteDataset numbers (RandomModel.AddVocabulary's SentencePiece layout), any tokenizer
// EdgeLM.Tokenizers loads (its tokenizer.* GGUF keys are copied), or a byte-level BPE trained on the
// run's documents (saved in the run folder's tokenizer/ and reloaded from there on resume).
// Not a tokenizer implementation: Tokenizers does the work.
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tokenizers;
using EdgeLM.Tokenizers.Training;
using EdgeLM.Training.Data;

namespace EdgeLM.Training.Run;

public sealed class RunTokenizer
{
    /// <summary>The special token a trained BPE separates documents with (GPT-2's end of text).</summary>
    public const string EndOfText = "<|endoftext|>";

    readonly Tokenizer? _tokenizer;

    RunTokenizer(Tokenizer? tokenizer, int vocab, int bos, int eos, string description)
    {
        _tokenizer = tokenizer;
        VocabSize = vocab;
        Bos = bos;
        Eos = eos;
        Description = description;
    }

    public int VocabSize { get; }
    /// <summary>Put before each document (−1: none).</summary>
    public int Bos { get; }
    /// <summary>Put after each document (−1: none; not repeated when it equals Bos).</summary>
    public int Eos { get; }
    public string Description { get; }

    /// <summary>The tokenizer the config names; a trained one is written to <paramref name="runDir"/>/tokenizer.</summary>
    public static RunTokenizer Create(RunConfig config, string runDir, Func<List<string>> documents, CancellationToken cancel = default)
    {
        string spec = config.Tokenizer ?? (config.Vocab is null ? "byte" : "train");
        if (spec == "byte")
            return new RunTokenizer(null, ByteDataset.VocabSize, ByteDataset.Bos, 2, "byte (259 ids)");
        if (spec != "train") return FromData(Tokenizer.LoadData(spec), spec);
        string saved = Path.Combine(runDir, "tokenizer");
        if (File.Exists(Path.Combine(saved, TokenizerFiles.JsonName))) return FromData(Tokenizer.LoadData(saved), saved);
        int vocab = config.Vocab ?? throw new ArgumentException("--tokenizer train needs --vocab N");
        if (vocab < 257) throw new ArgumentException($"--vocab {vocab} is smaller than 256 bytes + {EndOfText}");
        var data = BpeTrainer.Train(documents(), new BpeTrainerOptions
        {
            VocabSize = vocab,
            SpecialTokens = [EndOfText],
            Threads = config.Threads ?? 0,
        }, cancel: cancel);
        TokenizerFiles.Write(data, saved, cancel);
        return FromData(data, saved);
    }

    static RunTokenizer FromData(TokenizerData data, string source)
    {
        var t = new Tokenizer(data);
        return new RunTokenizer(t, t.VocabSize, t.BosId, t.EosId, $"{source} ({t.VocabSize} ids)");
    }

    /// <summary>The same vocabulary for the corpus readers (JSONL documents, chat conversations with the
    /// tokenizer's own chat template).</summary>
    public ICorpusTokenizer Corpus => _corpus ??= _tokenizer is null
        ? new ByteCorpusTokenizer()
        : new CorpusTokenizer(_tokenizer, CorpusTokenizer.TemplateOf(_tokenizer));

    ICorpusTokenizer? _corpus;

    /// <summary>A document's tokens, BOS first and EOS last where the vocabulary has them.</summary>
    public void EncodeDocument(string text, List<int> output)
    {
        if (Bos >= 0) output.Add(Bos);
        if (_tokenizer is null) output.AddRange(ByteDataset.Encode(text));
        else _tokenizer.Encode(text, output, addBos: false, parseSpecial: false);
        if (Eos >= 0 && Eos != Bos) output.Add(Eos);
    }

    /// <summary>Adds the tokenizer.* keys of this vocabulary to a GGUF being written.</summary>
    public void WriteMetadata(GgufWriter w)
    {
        if (_tokenizer is null) RandomModel.AddVocabulary(w, VocabSize);
        else _tokenizer.Data.WriteTo(w);
    }
}
