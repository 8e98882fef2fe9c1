// A GGUF file as a model source: its names and keys are already the engine's.
using EdgeLM.Models;

namespace EdgeLM.Formats.Gguf;

public sealed unsafe class GgufModelSource : IModelSource
{
    public GgufModelSource(GgufFile file)
    {
        File = file;
        Tensors = file.Tensors
            .Select(t => new TensorEntry(t.Name, t.Type, t.Dimensions, (nint)file.TensorPointer(t), t.ByteSize))
            .ToList();
    }

    public static GgufModelSource Open(string path) => new(GgufFile.Open(path));

    public GgufFile File { get; }
    public string Path => File.Path;
    public IReadOnlyDictionary<string, GgufValue> Metadata => File.Metadata;
    public IReadOnlyList<TensorEntry> Tensors { get; }
    public bool QkRotateHalf => false;

    public bool TryRead(nint at, Span<byte> dst)
    {
        if (!File.Mapping.Contains((byte*)at, dst.Length)) return false;
        File.Mapping.Read((byte*)at, dst);
        return true;
    }

    public bool Evict(nint at, long length) => File.Mapping.Evict((byte*)at, length);

    public void Dispose() => File.Dispose();
}
