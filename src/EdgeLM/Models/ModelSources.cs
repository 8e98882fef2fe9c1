// Opens any supported model file or folder as an IModelSource: a .gguf file, a Hugging Face
// safetensors folder (config.json + *.safetensors), or a llama2.c checkpoint.
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Formats.Llama2c;
using EdgeLM.Formats.Safetensors;

namespace EdgeLM.Models;

public static class ModelSources
{
    public static IModelSource Open(string path)
    {
        if (Directory.Exists(path))
            return SafetensorsModelSource.Open(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file or folder", path);
        if (GgufFile.IsGguf(path))
            return GgufModelSource.Open(path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return SafetensorsModelSource.Open(Path.GetDirectoryName(Path.GetFullPath(path))!);
        // Anything else must be a llama2.c checkpoint, whose reader checks the header and exact size.
        try
        {
            return Llama2cModelSource.Open(path);
        }
        catch (InvalidModelFileException e)
        {
            throw new InvalidModelFileException(path, $"not a GGUF file, a safetensors folder or a valid llama2.c checkpoint ({e.Message})");
        }
    }
}
