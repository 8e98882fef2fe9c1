// safetensors writer (huggingface/safetensors, README "Format"): F32, F16 and BF16 tensors, an
// optional "__metadata__" string map, the JSON header padded with spaces to a multiple of 8 bytes
// as the reference library does (so the data buffer starts 8-aligned), and tensor data written in
// the order added from callbacks, so a converted model never sits whole in memory. Every file is
// written under a temporary name and renamed into place. WriteFolder shards by a maximum shard size
// the way huggingface_hub's split_torch_state_dict_into_shards does (greedy, in order; a tensor
// larger than the limit gets a shard of its own) and writes model.safetensors.index.json last.
using System.Globalization;
using System.Text.Json;
using EdgeLM.Tensors;

namespace EdgeLM.Formats.Safetensors;

public sealed class SafetensorsWriter
{
    /// <summary>transformers' save_pretrained default max_shard_size ("5GB").</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    readonly List<KeyValuePair<string, string>> _metadata = [];
    readonly List<PendingTensor> _tensors = [];

    sealed record PendingTensor(string Name, GgmlType Type, long[] Shape, long ByteSize, Action<Stream> Write);

    public SafetensorsWriter SetMetadata(string key, string value)
    {
        _metadata.RemoveAll(kv => kv.Key == key);
        _metadata.Add(new(key, value));
        return this;
    }

    /// <summary>Adds a tensor whose bytes <paramref name="write"/> produces when the file is written.
    /// <paramref name="shape"/> is in safetensors (row-major) order: the last dimension is the row length.</summary>
    public SafetensorsWriter AddTensor(string name, GgmlType type, long[] shape, Action<Stream> write)
    {
        if (name == "__metadata__" || _tensors.Exists(t => t.Name == name))
            throw new ArgumentException($"tensor '{name}' added twice or reserved", nameof(name));
        if (SafetensorsFile.DTypeName(type) is null)
            throw new ArgumentException($"tensor '{name}': safetensors cannot hold {type}; dequantize it first", nameof(type));
        long bytes = type == GgmlType.F32 ? 4 : 2;
        foreach (long d in shape)
            bytes = d >= 0 ? checked(bytes * d) : throw new ArgumentException($"tensor '{name}': negative dimension", nameof(shape));
        _tensors.Add(new(name, type, (long[])shape.Clone(), bytes, write));
        return this;
    }

    public SafetensorsWriter AddTensor(string name, float[] data, params long[] shape) =>
        AddTensor(name, GgmlType.F32, shape, s => s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan())));

    /// <summary>Writes every tensor into one file, atomically.</summary>
    public void Write(string path, CancellationToken cancel = default) =>
        WriteFile(path, _tensors, _metadata, cancel);

    /// <summary>Writes model.safetensors, or model-0000i-of-0000n.safetensors shards plus
    /// model.safetensors.index.json when the tensors exceed <paramref name="maxShardBytes"/>.
    /// Returns the file names written, index last.</summary>
    public IReadOnlyList<string> WriteFolder(string folder, long maxShardBytes = DefaultMaxShardBytes, CancellationToken cancel = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        Directory.CreateDirectory(folder);
        var shards = Split(maxShardBytes);
        if (shards.Count <= 1)
        {
            WriteFile(System.IO.Path.Combine(folder, SafetensorsCheckpoint.SingleFileName), _tensors, _metadata, cancel);
            return [SafetensorsCheckpoint.SingleFileName];
        }
        var written = new List<string>();
        var weightMap = new List<KeyValuePair<string, string>>();
        for (int i = 0; i < shards.Count; i++)
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors");
            WriteFile(System.IO.Path.Combine(folder, name), shards[i], _metadata, cancel);
            written.Add(name);
            foreach (var t in shards[i]) weightMap.Add(new(t.Name, name));
        }
        long total = _tensors.Sum(t => t.ByteSize);
        AtomicFile.Write(System.IO.Path.Combine(folder, SafetensorsCheckpoint.IndexFileName), s => WriteIndex(s, total, weightMap));
        written.Add(SafetensorsCheckpoint.IndexFileName);
        return written;
    }

    List<List<PendingTensor>> Split(long max)
    {
        var shards = new List<List<PendingTensor>>();
        List<PendingTensor>? current = null;
        long size = 0;
        foreach (var t in _tensors)
        {
            if (current is null || (size + t.ByteSize > max && current.Count > 0))
            {
                current = [];
                shards.Add(current);
                size = 0;
            }
            current.Add(t);
            size += t.ByteSize;
        }
        return shards;
    }

    static void WriteIndex(Stream s, long totalSize, List<KeyValuePair<string, string>> weightMap)
    {
        using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteStartObject("metadata");
        w.WriteNumber("total_size", totalSize);
        w.WriteEndObject();
        w.WriteStartObject("weight_map");
        foreach (var (name, file) in weightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            w.WriteString(name, file);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    static void WriteFile(string path, List<PendingTensor> tensors, List<KeyValuePair<string, string>> metadata, CancellationToken cancel) =>
        AtomicFile.Write(path, s => WriteTo(s, tensors, metadata, cancel));

    static void WriteTo(Stream stream, List<PendingTensor> tensors, List<KeyValuePair<string, string>> metadata, CancellationToken cancel)
    {
        byte[] header = Header(tensors, metadata);
        stream.Write(BitConverter.GetBytes((ulong)header.Length));
        stream.Write(header);
        foreach (var t in tensors)
        {
            cancel.ThrowIfCancellationRequested();
            AtomicFile.WriteExactly(stream, $"tensor '{t.Name}'", t.ByteSize, t.Write);
        }
    }

    static byte[] Header(List<PendingTensor> tensors, List<KeyValuePair<string, string>> metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", SafetensorsFile.DTypeName(t.Type));
                w.WriteStartArray("shape");
                foreach (long d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.ByteSize);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.ByteSize;
            }
            w.WriteEndObject();
        }
        // Padded with spaces (valid trailing JSON whitespace) so the data buffer starts 8-aligned.
        while (ms.Length % 8 != 0) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }
}
