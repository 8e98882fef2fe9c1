// A read-only memory map of a whole file. Weights are viewed in place through it; nothing is
// copied into the managed heap. The pointer stays valid until Dispose.
using System.IO.MemoryMappedFiles;

namespace EdgeLM.Formats;

public sealed unsafe class MappedFile : IDisposable
{
    readonly MemoryMappedFile? _map;
    readonly MemoryMappedViewAccessor? _view;
    byte* _pointer;

    MappedFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* pointer, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _pointer = pointer;
        Length = length;
    }

    public string Path { get; }
    public long Length { get; }
    public byte* Pointer => _pointer;

    public static MappedFile Open(string path)
    {
        if (Directory.Exists(path))
            throw new InvalidModelFileException(path, "is a folder, expected a file");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        long length = new FileInfo(path).Length;
        if (length == 0)
            return new MappedFile(path, null, null, null, 0);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        p += view.PointerOffset;
        return new MappedFile(path, map, view, p, length);
    }

    public ReadOnlySpan<byte> Span(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset));
        return new ReadOnlySpan<byte>(_pointer + offset, length);
    }

    public void Dispose()
    {
        if (_view is not null && _pointer is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _pointer = null;
        }
        _view?.Dispose();
        _map?.Dispose();
    }
}
