// Writes a trained byte-level BPE vocabulary as the files other tools load: tokenizer.json and
// tokenizer_config.json (EdgeLM.Tokenizers.TokenizerJson: the Hugging Face `tokenizers` layout) and
// a vocab-only GGUF (TokenizerData.ToVocabOnlyGguf: general.* and gpt2.* placeholders llama.cpp
// needs to open the file, then tokenizer.ggml.*).
// All three are written under temporary names and renamed only when all are complete, so a failure
// or cancellation never leaves a half-written file. Not a general tokenizer.json writer.
using EdgeLM.Formats.Gguf;

namespace EdgeLM.Tokenizers.Training;

public static class TokenizerFiles
{
    // The regexes of tokenizer.json files llama.cpp recognises as llama-bpe and qwen2 (their Split patterns).
    const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public const string JsonName = "tokenizer.json", ConfigName = "tokenizer_config.json", GgufName = "tokenizer.gguf";

    /// <summary>Writes DIR/tokenizer.json, DIR/tokenizer_config.json and DIR/tokenizer.gguf; returns their paths.</summary>
    public static string[] Write(TokenizerData data, string dir, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(dir);
        string[] names = [JsonName, ConfigName, GgufName];
        string tag = $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var temps = Array.ConvertAll(names, n => Path.Combine(dir, n + tag));
        try
        {
            File.WriteAllBytes(temps[0], TokenizerJson(data));
            cancel.ThrowIfCancellationRequested();
            File.WriteAllBytes(temps[1], ConfigJson(data));
            cancel.ThrowIfCancellationRequested();
            Gguf(data).Write(temps[2], cancel);
            cancel.ThrowIfCancellationRequested();
            var finals = Array.ConvertAll(names, n => Path.Combine(dir, n));
            for (int i = 0; i < names.Length; i++) File.Move(temps[i], finals[i], overwrite: true);
            return finals;
        }
        finally
        {
            foreach (string t in temps)
                if (File.Exists(t)) File.Delete(t);
        }
    }

    /// <summary>The vocab-only GGUF writer: llama.cpp's loader requires an architecture and its hyperparameters.</summary>
    public static GgufWriter Gguf(TokenizerData data) => data.ToVocabOnlyGguf("edgelm-bpe");

    public static byte[] TokenizerJson(TokenizerData data) => EdgeLM.Tokenizers.TokenizerJson.Write(data);

    public static byte[] ConfigJson(TokenizerData data) => EdgeLM.Tokenizers.TokenizerJson.WriteConfig(data);
}
