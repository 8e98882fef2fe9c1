// Opens any supported model file or folder as an IModelSource: a .gguf file, a Hugging Face
// safetensors folder (config.json + *.safetensors), or a llama2.c checkpoint.
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;

namespace EdgeLM.Models;

public static class ModelSources
{
    public static IModelSource Open(string path)
    {
        if (Directory.Exists(path))
            throw new InvalidModelFileException(path, "safetensors folders are not supported yet");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file or folder", path);
        if (GgufFile.IsGguf(path))
            return GgufModelSource.Open(path);
        throw new InvalidModelFileException(path, "not a GGUF file, a safetensors folder or a llama2.c checkpoint");
    }
}
