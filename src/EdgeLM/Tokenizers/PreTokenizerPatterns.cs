// The tokenizer.json spelling of each byte-level pre-tokenizer EdgeLM knows: the Split regexes, in
// order, that a Hugging Face tokenizer.json for that family carries (the patterns llama.cpp's
// llama-vocab.cpp lists per tokenizer.ggml.pre, in their original tokenizer.json form). Used both
// ways: writing tokenizer.json from GGUF metadata, and naming the pre-tokenizer when reading one.
// Not the splitter itself (PreTokenizer); names that share one pattern list come back as the first.
namespace EdgeLM.Tokenizers;

internal static class PreTokenizerPatterns
{
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    public const string Llama3 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Qwen2 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const string FalconGpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    const string CjkRun = "[一-龥ࠀ-一가-퟿]+";

    const string DeepseekLetters =
        "[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";

    // First name of each row is the one a tokenizer.json reads back as. "gpt-2" alone is written as
    // ByteLevel with use_regex (GPT-2's own pattern), which is how Hugging Face writes it.
    static readonly (string[] Names, string[] Regexes)[] Table =
    [
        (["gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code",
            "roberta-bpe", "mpt", "olmo", "jais"], [Gpt2]),
        (["llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "dbrx", "smaug-bpe", "chatglm-bpe"], [Llama3]),
        (["qwen2", "stablelm2", "deepseek-r1-qwen", "megrez"], [Qwen2]),
        (["deepseek-llm"], ["[\r\n]", @"\s?" + DeepseekLetters, @"\s?[!-/:-~！-／：-～‘-‟　-。]+", @"\s+$", CjkRun, @"\p{N}+"]),
        (["deepseek-coder"], ["[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", CjkRun, @"\p{N}"]),
        (["falcon"], [@"[\p{P}\$\+<=>\^~\|`]+", FalconGpt2, "[0-9][0-9][0-9]"]),
        (["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva"], [@"\p{N}", Gpt2]),
        (["default"], [@"[\p{P}\$\+<=>\^~\|]+", FalconGpt2, @"\p{N}+", "[0-9][0-9][0-9]"]),
    ];

    /// <summary>The Split regexes for a tokenizer.ggml.pre name, or null when EdgeLM has none.</summary>
    public static string[]? RegexesFor(string pre)
    {
        foreach (var (names, regexes) in Table)
            if (Array.IndexOf(names, pre) >= 0) return regexes;
        return null;
    }

    /// <summary>The pre-tokenizer name for a tokenizer.json's Split regexes in order; "default" when unknown.</summary>
    public static string NameOf(IReadOnlyList<string> regexes)
    {
        if (regexes.Count == 0) return "gpt-2"; // ByteLevel with use_regex: GPT-2's own pattern
        foreach (var (names, list) in Table)
        {
            if (list.Length != regexes.Count) continue;
            bool same = true;
            for (int i = 0; i < list.Length && same; i++) same = list[i] == regexes[i];
            if (same) return names[0];
        }
        return "default";
    }
}
