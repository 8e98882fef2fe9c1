// A read-only memory map of a whole file. Weights are viewed in place through it; nothing is
// copied into the managed heap. The pointer stays valid until Dispose. A range of the map can also be
// read from the file itself (Read), so that a private copy of it does not also leave the mapped pages
// resident, and the pages of a range a private copy now serves can be dropped (Evict).
using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;

namespace EdgeLM.Formats;

public sealed unsafe class MappedFile : IDisposable
{
    readonly MemoryMappedFile? _map;
    readonly MemoryMappedViewAccessor? _view;
    readonly SafeFileHandle? _handle;
    byte* _pointer;

    MappedFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, SafeFileHandle? handle, byte* pointer, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _handle = handle;
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
            return new MappedFile(path, null, null, null, null, 0);
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            var map = MemoryMappedFile.CreateFromFile(handle, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            return new MappedFile(path, map, view, handle, p, length);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Whether [at, at + length) lies inside the map.</summary>
    public bool Contains(byte* at, long length) =>
        _pointer != null && at >= _pointer && length >= 0 && at - _pointer <= Length - length;

    /// <summary>Fills dst with the file's bytes at the address <paramref name="at"/> of the map, read from the file
    /// (any thread) rather than through the map, so the mapped pages are not touched.</summary>
    public void Read(byte* at, Span<byte> dst)
    {
        if (!Contains(at, dst.Length)) throw new ArgumentOutOfRangeException(nameof(at), $"{Path}: the range is outside the file");
        long offset = at - _pointer;
        while (!dst.IsEmpty)
        {
            int n = RandomAccess.Read(_handle!, dst, offset);
            if (n == 0) throw new IOException($"{Path}: the file ends at {offset:N0} bytes, before the data it listed (changed while open?)");
            dst = dst[n..];
            offset += n;
        }
    }

    /// <summary>Drops the whole pages inside [at, at + length) of the map from this process's memory (Linux;
    /// elsewhere nothing): for data a private copy now serves. The map stays valid; a later read of the range
    /// pages it in again from the file. False when nothing was dropped.</summary>
    public bool Evict(byte* at, long length)
    {
        if (!Contains(at, length)) return false;
        long page = Environment.SystemPageSize;
        long from = ((long)at + page - 1) / page * page, to = ((long)at + length) / page * page;
        return to > from && PageAdvice.Advise((void*)from, (nuint)(to - from), PageAdvice.DontNeed);
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
        _handle?.Dispose();
    }
}
