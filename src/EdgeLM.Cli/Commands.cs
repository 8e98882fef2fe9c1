// The commands, one file each; this file lists them and holds what they share.
using System.CommandLine;
using EdgeLM.Formats;

namespace EdgeLM.Cli;

public static class Commands
{
    public static IEnumerable<Command> All() =>
    [
        RunCommand.Create(),
        ChatCommand.Create(),
        InfoCommand.Create(),
        PerplexityCommand.Create(),
        ConvertCommand.Create(),
        TraceCommand.Create(),
        BenchCommand.Create(),
        TokenizerTrainCommand.Create(),
        TokenizeCommand.Create(),
        DetokenizeCommand.Create(),
        FinetuneCommand.Create(),
    ];

    public static Argument<string> ModelArgument() =>
        new("MODEL") { Description = "a .gguf file or a Hugging Face safetensors folder" };

    /// <summary>Runs a command body, turning the errors a user can cause into one clear line on stderr.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine();
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        catch (Exception e) when (e is InvalidModelFileException or FileNotFoundException or DirectoryNotFoundException
            or ArgumentException or InvalidOperationException or NotSupportedException or IOException or UnauthorizedAccessException
            or System.Text.Json.JsonException or FormatException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Reads a text file as strict UTF-8: invalid bytes are an error that names the file.</summary>
    public static string ReadUtf8(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        try
        {
            return File.ReadAllText(path, new System.Text.UTF8Encoding(false, true));
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new FormatException($"{path}: not valid UTF-8 ({e.Message})");
        }
    }

    public static int Guard(Func<int> body) => Guard(() => Task.FromResult(body())).GetAwaiter().GetResult();
}
