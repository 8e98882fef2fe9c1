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
        MergeCommand.Create(),
        TraceCommand.Create(),
        BenchCommand.Create(),
        TokenizerTrainCommand.Create(),
        TokenizeCommand.Create(),
        DetokenizeCommand.Create(),
        TrainCommand.Create(),
        FinetuneCommand.Create(),
    ];

    public static Argument<string> ModelArgument() =>
        new("MODEL") { Description = "a .gguf file or a Hugging Face safetensors folder" };

    /// <summary>The file name of the model that ships with EdgeLM (models/ in the repository, beside the tool).</summary>
    public const string DefaultModelName = "edgelm-fortunes.gguf";

    /// <summary>A MODEL argument that may be left out: see <see cref="ResolveModel"/>.</summary>
    public static Argument<string?> OptionalModelArgument() =>
        new("MODEL")
        {
            Description = $"a .gguf file or a Hugging Face safetensors folder (default: $EDGELM_MODEL, else the bundled {DefaultModelName})",
            Arity = ArgumentArity.ZeroOrOne,
        };

    /// <summary>The model to use: the one given, else $EDGELM_MODEL, else the bundled model beside the tool
    /// (models/ in its folder) or in ./models (a repository checkout).</summary>
    public static string ResolveModel(string? given)
    {
        if (!string.IsNullOrEmpty(given)) return given;
        if (Environment.GetEnvironmentVariable("EDGELM_MODEL") is { Length: > 0 } env) return env;
        string[] candidates =
        [
            Path.Combine(AppContext.BaseDirectory, "models", DefaultModelName),
            Path.Combine(Environment.CurrentDirectory, "models", DefaultModelName),
        ];
        foreach (var c in candidates)
            if (File.Exists(c)) return c;
        throw new FileNotFoundException($"no MODEL given, EDGELM_MODEL is not set, and the bundled model is not at {string.Join(" or ", candidates)}");
    }

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
