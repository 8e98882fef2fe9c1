// The one exception type for a model, tokenizer or checkpoint file that cannot be used: it names
// the file and, where known, the key or tensor, and says what is wrong.
namespace EdgeLM.Formats;

public sealed class InvalidModelFileException : Exception
{
    public InvalidModelFileException(string path, string message)
        : base($"{path}: {message}") => FilePath = path;

    public InvalidModelFileException(string path, string message, Exception inner)
        : base($"{path}: {message}", inner) => FilePath = path;

    public string FilePath { get; }
}
