// Frozen weights read from the file instead of touched through the mapping: QuantizedProjections asks
// for a tile's rows just before it dequantizes them, and they are read with RandomAccess.Read (pread)
// into one reused buffer. The file's pages then sit in the OS page cache, shared and reclaimable,
// instead of the process's resident set, which the mapped path grows by the whole file each step. The
// cost is one copy of each tile's bytes per pass. Not a cache: every request reads again.
// Only GGUF files: a tensor's file offset is its address in the source's mapping minus the mapping's start.
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using Microsoft.Win32.SafeHandles;

namespace EdgeLM.Training.Lora;

sealed class WeightStream : IDisposable
{
    readonly SafeFileHandle _handle;
    readonly nint _mapping;   // the source mapping's first byte
    readonly byte[] _buffer;  // the largest request: a tile of the widest held matrix

    WeightStream(string path, SafeFileHandle handle, nint mapping, int maxBytes) =>
        (Path, _handle, _mapping, _buffer) = (path, handle, mapping, GC.AllocateUninitializedArray<byte>(maxBytes, pinned: true));

    public string Path { get; }
    /// <summary>Bytes read so far (every pass reads each held tile again).</summary>
    public long BytesRead { get; private set; }
    /// <summary>Wall time spent in reads so far, in Stopwatch ticks: the price of streaming.</summary>
    public long ReadTicks { get; private set; }
    public int BufferBytes => _buffer.Length;

    /// <summary>A reader of <paramref name="model"/>'s file whose requests are at most <paramref name="maxBytes"/>.</summary>
    public static unsafe WeightStream Open(DecoderModel model, int maxBytes)
    {
        if (model.Source is not GgufModelSource g)
            throw new NotSupportedException($"{model.Source.Path}: streaming frozen weights reads GGUF files only; convert the model to GGUF or keep it mapped");
        var handle = File.OpenHandle(g.Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        return new WeightStream(g.Path, handle, (nint)g.File.Mapping.Pointer, maxBytes);
    }

    /// <summary>Bytes [<paramref name="offset"/>, + <paramref name="count"/>) of tensor <paramref name="e"/>, in the reused buffer
    /// (valid until the next call). A file that ends early, or fails to read, is an error naming it and the tensor.</summary>
    public ReadOnlySpan<byte> Read(TensorEntry e, long offset, int count)
    {
        System.Diagnostics.Debug.Assert(count <= _buffer.Length && offset + count <= e.ByteSize);
        long at = (long)(e.Data - _mapping) + offset;
        var dst = _buffer.AsSpan(0, count);
        int done = 0;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            while (done < count)
            {
                int n = RandomAccess.Read(_handle, dst[done..], at + done);
                if (n == 0)
                    throw new InvalidModelFileException(Path, $"tensor '{e.Name}': the file ends at byte {at + done}, inside the tensor " +
                        $"(bytes {at} to {at + count} were to be read); was it truncated or replaced while training?");
                done += n;
            }
        }
        catch (IOException x)
        {
            throw new InvalidModelFileException(Path, $"tensor '{e.Name}': reading bytes {at} to {at + count} failed: {x.Message}", x);
        }
        BytesRead += count;
        ReadTicks += System.Diagnostics.Stopwatch.GetTimestamp() - start;
        return dst;
    }

    public void Dispose() => _handle.Dispose();
}
