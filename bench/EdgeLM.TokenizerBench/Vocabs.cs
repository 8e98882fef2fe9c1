// The vocabularies the tokenizer bench compares, each as EdgeLM data plus the GGUF llama.cpp loads
// (the shared vocab-only files, or one written with TokenizerData.WriteTo for the Hugging Face and
// llama2.c ones), and the pre-tokenizer regex a single-regex peer needs (null: llama.cpp runs several
// regexes in sequence, which one RegexPreTokenizer cannot express).
using EdgeLM.Formats.Gguf;
using EdgeLM.Tokenizers;

namespace EdgeLM.TokenizerBench;

internal sealed record Vocab(string Name, TokenizerData Data, string Gguf, string? Regex, bool HasCases);

internal static class Vocabs
{
    // llama.cpp's llm_tokenizer_bpe patterns (llama-vocab.cpp), in .NET syntax.
    const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static string TestData { get; } = Environment.GetEnvironmentVariable("EDGELM_TESTDATA") ?? FindTestData();

    static string FindTestData()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string c = Path.Combine(d.FullName, "shared", "testdata");
            if (Directory.Exists(c)) return c;
        }
        throw new DirectoryNotFoundException("shared testdata not found; set EDGELM_TESTDATA");
    }

    public static string LlamaCpp(string name) => Path.Combine(TestData, "tokenizers", "llamacpp", $"ggml-vocab-{name}.gguf");

    public static Vocab Get(string name, string tmp) => name switch
    {
        "llama-bpe" => Hf(name, "llama3", Llama3, tmp),
        "qwen2" => Hf(name, "qwen3", Qwen2, tmp),
        "tok512" => Written(name, TokenizerData.FromLlama2cBin(Path.Combine(TestData, "llama2c", "tok512.bin")), null, tmp, hasCases: false),
        "gpt-2" => Shared(name, Gpt2),
        _ => Shared(name, null),
    };

    public static readonly string[] All = ["llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "llama-bpe", "qwen2", "tok512"];

    static Vocab Shared(string name, string? regex) => new(name, Tokenizer.LoadData(LlamaCpp(name)), LlamaCpp(name), regex, true);

    static Vocab Hf(string name, string folder, string regex, string tmp) =>
        Written(name, TokenizerData.FromHuggingFace(Path.Combine(TestData, "tokenizers", "hf", folder, "tokenizer.json")), regex, tmp, true);

    static Vocab Written(string name, TokenizerData data, string? regex, string tmp, bool hasCases)
    {
        var w = new GgufWriter()
            .Set("general.architecture", "llama").Set("general.name", "vocab")
            .Set("llama.block_count", 1u).Set("llama.context_length", 4096u).Set("llama.embedding_length", 64u)
            .Set("llama.feed_forward_length", 128u).Set("llama.attention.head_count", 1u).Set("llama.attention.head_count_kv", 1u)
            .Set("llama.attention.layer_norm_rms_epsilon", 1e-5f).Set("llama.rope.dimension_count", 64u);
        data.WriteTo(w);
        string path = Path.Combine(tmp, name + ".gguf");
        w.Write(path);
        return new(name, data, path, regex, hasCases);
    }

    /// <summary>llama.cpp's test texts (.inp, separated by "\n__ggml_vocab_test__\n") and ids (.out).</summary>
    public static List<(string Text, int[] Ids)> Cases(string name)
    {
        string[] texts = File.ReadAllText(LlamaCpp(name) + ".inp").Split("\n__ggml_vocab_test__\n");
        string[] lines = File.ReadAllText(LlamaCpp(name) + ".out").Split('\n');
        var cases = new List<(string, int[])>();
        for (int i = 0; i < texts.Length; i++)
        {
            if (i == texts.Length - 1 && texts[i].Length == 0) break;
            cases.Add((texts[i], Array.ConvertAll(lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries), int.Parse)));
        }
        return cases;
    }
}
