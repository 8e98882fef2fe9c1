// What to train: the settings of `edgelm tokenizer train`, with the defaults it uses.
namespace EdgeLM.Tokenizers.Training;

public sealed record BpeTrainerOptions
{
    /// <summary>Total vocabulary size: special tokens + 256 byte tokens + learned merges.</summary>
    public required int VocabSize { get; init; }

    /// <summary>A pair seen fewer times than this is never merged (training stops early instead).</summary>
    public long MinFrequency { get; init; } = 2;

    /// <summary>Control tokens, given ids 0..n-1 in this order; they are cut out of the training text.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = [];

    /// <summary>Pre-tokenizer, as llama.cpp names it: "qwen2", "llama-bpe" or "gpt-2".</summary>
    public string Pre { get; init; } = "qwen2";

    /// <summary>Weight the counts of pre-tokens holding Han characters by HanWeight (CjkSegmenter.Reweight) and
    /// rank the merges that build one character up by CharacterBonus.</summary>
    public bool ChineseAware { get; init; }

    /// <summary>The Han weight of ChineseAware. 2 with CharacterBonus 1.4 is the measured best trade on the
    /// reference corpus (docs/TOKENIZER-TRAINING.md); 3 alone was the earlier default.</summary>
    public double HanWeight { get; init; } = 2;

    /// <summary>Learn no merge whose token straddles a character boundary (CharacterAlignment).</summary>
    public bool AlignToCharacters { get; init; }

    /// <summary>With ChineseAware: multiplies the count of a pair whose merged token lies inside one multi-byte
    /// character (the steps that build a character, and the character itself) when ranking merges; 1 = off.
    /// Characters seen in training recur in new text more often than the character pairs that compete
    /// with them for vocabulary entries.</summary>
    public double CharacterBonus { get; init; } = 1.4;

    /// <summary>Cut Han runs into PMI words learned from the corpus before BPE (CjkSegmenter.Resegment); measured worse.</summary>
    public bool ChineseSegmentation { get; init; }

    /// <summary>Threads for pre-tokenization and counting; 0 = all cores.</summary>
    public int Threads { get; init; }

    /// <summary>The pre-tokenizer names this trainer accepts (those with a tokenizer.json regex it can write).</summary>
    public static readonly string[] SupportedPre = ["qwen2", "llama-bpe", "gpt-2"];

    /// <summary>Maps the command-line spelling ("gpt2", "llama3") to llama.cpp's name, or throws naming the choices.</summary>
    public static string NormalizePre(string pre) => pre switch
    {
        "qwen2" => "qwen2",
        "llama-bpe" or "llama3" => "llama-bpe",
        "gpt2" or "gpt-2" => "gpt-2",
        _ => throw new ArgumentException($"pre-tokenizer '{pre}' is not supported for training; use one of qwen2, llama-bpe, gpt2"),
    };
}
