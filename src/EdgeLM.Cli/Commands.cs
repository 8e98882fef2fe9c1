// The commands, one file each; this file lists them and holds what they share.
using System.CommandLine;
using EdgeLM.Formats;

namespace EdgeLM.Cli;

public static class Commands
{
    public static IEnumerable<Command> All() =>
    [
        InfoCommand.Create(),
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

    public static int Guard(Func<int> body) => Guard(() => Task.FromResult(body())).GetAwaiter().GetResult();
}
