// edgelm tokenize TOKENIZER [--file F] [--json] [--bos] [--special]: text from stdin (or a file) to
// token ids on stdout, as llama.cpp's llama_tokenize gives them. Not a chat-template renderer: the
// text is tokenized as it is. The input must be strict UTF-8 (RFC 3629); the first invalid byte is
// reported by offset instead of being replaced, so no id is printed for text the user did not write.
using System.CommandLine;
using System.Text;
using System.Text.Unicode;
using EdgeLM.Tokenizers;

namespace EdgeLM.Cli;

public static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizer = TokenizerArgument();
        var file = new Option<string?>("--file", "-f") { Description = "read the text from this file instead of standard input" };
        var json = new Option<bool>("--json") { Description = "print a JSON array instead of space-separated ids" };
        var bos = new Option<bool>("--bos") { Description = "put the beginning-of-sequence token first (when the vocabulary has one)" };
        var special = new Option<bool>("--special") { Description = "turn special-token text such as <|im_end|> into its token (default: plain text)" };
        var command = new Command("tokenize", "Print the token ids of text read from standard input") { tokenizer, file, json, bos, special };
        command.SetAction(r => Commands.Guard(() => Run(r.GetValue(tokenizer)!, r.GetValue(file), r.GetValue(json), r.GetValue(bos), r.GetValue(special))));
        return command;
    }

    public static Argument<string> TokenizerArgument() => new("TOKENIZER")
    {
        Description = "a .gguf file (model or vocabulary only), a tokenizer.json, a SentencePiece .model, a BERT vocab.txt, a llama2.c tokenizer .bin, or a model folder",
    };

    static int Run(string path, string? file, bool json, bool bos, bool special)
    {
        var tok = Tokenizer.Load(path);
        byte[] input = ReadInput(file);
        string text = StrictUtf8(input, file ?? "standard input");
        int[] ids = tok.Encode(text, addBos: bos, parseSpecial: special);
        var sb = new StringBuilder(ids.Length * 6 + 2);
        if (json) sb.Append('[');
        for (int i = 0; i < ids.Length; i++)
        {
            if (i > 0) sb.Append(json ? "," : " ");
            sb.Append(ids[i].ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (json) sb.Append(']');
        Console.Out.WriteLine(sb.ToString());
        return 0;
    }

    /// <summary>All of standard input, or the file's bytes.</summary>
    public static byte[] ReadInput(string? file)
    {
        if (file is not null)
        {
            if (!File.Exists(file)) throw new FileNotFoundException($"{file}: file not found", file);
            return File.ReadAllBytes(file);
        }
        using var stdin = Console.OpenStandardInput();
        using var ms = new MemoryStream();
        stdin.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>Decodes strict UTF-8; an invalid sequence is an error that names its byte offset.</summary>
    public static string StrictUtf8(byte[] bytes, string source)
    {
        var chars = new char[bytes.Length];
        var status = Utf8.ToUtf16(bytes, chars, out int read, out int written, replaceInvalidSequences: false);
        if (status != System.Buffers.OperationStatus.Done)
            throw new FormatException($"{source}: not valid UTF-8 at byte offset {read} (0x{bytes[read]:X2})");
        return new string(chars, 0, written);
    }
}
