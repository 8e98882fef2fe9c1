// edgelm detokenize TOKENIZER [--file F] [--special]: token ids from stdin (or a file), separated by
// whitespace or written as a JSON array, to the bytes they stand for on stdout (llama.cpp's
// llama_detokenize: the exact bytes, so a byte token that splits a character is passed through).
// Control tokens print nothing unless --special. Not a streaming decoder: all ids are read first.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeLM.Tokenizers;

namespace EdgeLM.Cli;

public static class DetokenizeCommand
{
    public static Command Create()
    {
        var tokenizer = TokenizeCommand.TokenizerArgument();
        var file = new Option<string?>("--file", "-f") { Description = "read the ids from this file instead of standard input" };
        var special = new Option<bool>("--special") { Description = "print the text of control tokens such as <|im_end|> (default: nothing)" };
        var command = new Command("detokenize", "Print the text of token ids read from standard input") { tokenizer, file, special };
        command.SetAction(r => Commands.Guard(() => Run(r.GetValue(tokenizer)!, r.GetValue(file), r.GetValue(special))));
        return command;
    }

    static int Run(string path, string? file, bool special)
    {
        var tok = Tokenizer.Load(path);
        string source = file ?? "standard input";
        int[] ids = ParseIds(TokenizeCommand.StrictUtf8(TokenizeCommand.ReadInput(file), source), source);
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)tok.VocabSize)
                throw new ArgumentException($"{source}: id {ids[i]} (number {i + 1}) is outside the vocabulary of {tok.VocabSize} tokens");
        byte[] bytes = tok.DecodeToUtf8(ids, skipSpecial: !special);
        using var stdout = Console.OpenStandardOutput();
        stdout.Write(bytes);
        return 0;
    }

    /// <summary>Ids as a JSON array of integers, or integers separated by whitespace (commas allowed).</summary>
    public static int[] ParseIds(string text, string source)
    {
        string t = text.Trim();
        if (t.StartsWith('['))
        {
            try
            {
                return JsonSerializer.Deserialize<int[]>(t) ?? [];
            }
            catch (JsonException e)
            {
                throw new FormatException($"{source}: not a JSON array of integer ids ({e.Message})");
            }
        }
        string[] parts = t.Split([' ', '\t', '\n', '\r', ','], StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ids[i]))
                throw new FormatException($"{source}: '{parts[i]}' (number {i + 1}) is not an integer token id");
        return ids;
    }
}
