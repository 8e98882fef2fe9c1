// llama.cpp's tokenizer conformance files (testdata/tokenizers/llamacpp, see SOURCES.md): the .inp
// texts separated by "\n__ggml_vocab_test__\n" and the .out ids (no BOS), one line per text.
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;

namespace EdgeLM.Tests.Tokenizers;

internal static class VocabCases
{
    /// <summary>The eight vocabularies with llama.cpp's own test cases (six vocab GGUFs, two tokenizer.json).</summary>
    public static TheoryData<string> WithCases => new() { "llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "llama-bpe", "qwen2" };

    /// <summary>Those, and llama2.c's tok512.</summary>
    public static TheoryData<string> All => new() { "llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "llama-bpe", "qwen2", "tok512" };

    public static string LlamaCpp(string name) => TestData.File("tokenizers", "llamacpp", $"ggml-vocab-{name}.gguf");

    public static List<(string Text, int[] Ids)> Load(string name)
    {
        string inp = File.ReadAllText(LlamaCpp(name) + ".inp");
        string[] texts = inp.Split("\n__ggml_vocab_test__\n");
        string[] lines = File.ReadAllText(LlamaCpp(name) + ".out").Split('\n');
        var cases = new List<(string, int[])>();
        for (int i = 0; i < texts.Length; i++)
        {
            if (i == texts.Length - 1 && texts[i].Length == 0) break; // the file ends with a separator
            int[] ids = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            cases.Add((texts[i], ids));
        }
        return cases;
    }

    static readonly Dictionary<string, Tokenizer> Cache = [];

    /// <summary>The tokenizer for a vocabulary name: a llama.cpp vocab GGUF, or an HF folder for llama-bpe / qwen2.</summary>
    public static Tokenizer Get(string name)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(name, out var t))
                Cache[name] = t = new Tokenizer(Data(name));
            return t;
        }
    }

    public static TokenizerData Data(string name) => name switch
    {
        "llama-bpe" => TokenizerData.FromHuggingFace(TestData.File("tokenizers", "hf", "llama3", "tokenizer.json")),
        "qwen2" => TokenizerData.FromHuggingFace(TestData.File("tokenizers", "hf", "qwen3", "tokenizer.json")),
        "tok512" => TokenizerData.FromLlama2cBin(TestData.File("llama2c", "tok512.bin")),
        _ => Tokenizer.LoadData(LlamaCpp(name)),
    };

    public static string Show(IEnumerable<int> ids) => string.Join(' ', ids);
}
