// One safetensors file (huggingface/safetensors, README "Format"): an 8-byte little-endian header
// length N, N bytes of UTF-8 JSON (an object of tensor name -> {dtype, shape, data_offsets}, plus an
// optional "__metadata__" string map), then the data buffer the offsets point into. The file is
// memory-mapped and validated whole when opened, as the reference Rust library does: header length
// against the file size and a 100 MB cap, every dtype, shape product x element size == offset span
// (with overflow checks), offsets inside the buffer, no two tensors overlapping, names unique.
// Only F32, F16 and BF16 are accepted; other dtypes are refused by name. This is not a sharded
// checkpoint (see SafetensorsCheckpoint) and knows nothing of model names.
using System.Text.Json;
using EdgeLM.Tensors;

namespace EdgeLM.Formats.Safetensors;

/// <summary>One tensor of a safetensors file. <see cref="Shape"/> is in safetensors (row-major) order:
/// the last dimension is the row length. <see cref="Offset"/> is from the start of the file.</summary>
public sealed record SafetensorsTensorInfo(string Name, GgmlType Type, long[] Shape, long Offset, long ByteSize)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);
}

public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The reference library's MAX_HEADER_SIZE: larger headers are refused before parsing.</summary>
    public const long MaxHeaderBytes = 100_000_000;
    const int MaxDims = 8;

    readonly MappedFile _file;
    readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    SafetensorsFile(MappedFile file, long dataOffset, List<SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        _file = file;
        DataOffset = dataOffset;
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string Path => _file.Path;
    public long FileSize => _file.Length;

    /// <summary>Where the data buffer starts: 8 + the header length.</summary>
    public long DataOffset { get; }

    /// <summary>The "__metadata__" map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensors in the order the header lists them.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    public static SafetensorsFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            return Parse(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public SafetensorsTensorInfo? FindTensor(string name) => _byName.GetValueOrDefault(name);

    public SafetensorsTensorInfo GetTensor(string name) =>
        FindTensor(name) ?? throw new InvalidModelFileException(Path, $"tensor '{name}' is missing");

    /// <summary>Pointer to a tensor's first byte inside the map; valid until Dispose.</summary>
    public byte* TensorPointer(SafetensorsTensorInfo t) => _file.Pointer + t.Offset;

    public ReadOnlySpan<byte> TensorData(SafetensorsTensorInfo t) =>
        t.ByteSize <= int.MaxValue
            ? new ReadOnlySpan<byte>(TensorPointer(t), (int)t.ByteSize)
            : throw new InvalidOperationException($"{Path}: tensor '{t.Name}' is larger than 2 GiB; read it by rows");

    /// <summary>The file behind <see cref="TensorPointer"/>'s addresses.</summary>
    public MappedFile Mapping => _file;

    public void Dispose() => _file.Dispose();

    /// <summary>The safetensors dtype name of a tensor type, or null when safetensors cannot hold it.</summary>
    public static string? DTypeName(GgmlType type) => type switch
    {
        GgmlType.F32 => "F32",
        GgmlType.F16 => "F16",
        GgmlType.BF16 => "BF16",
        _ => null,
    };

    // ---- parsing ---------------------------------------------------------------------------------

    static SafetensorsFile Parse(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 8)
            throw new InvalidModelFileException(path, $"file is {file.Length} bytes, too short for a safetensors header length");
        ulong n = *(ulong*)file.Pointer;
        if (n > MaxHeaderBytes)
            throw new InvalidModelFileException(path, $"header length {n} exceeds the {MaxHeaderBytes}-byte limit (not a safetensors file?)");
        if (n > (ulong)(file.Length - 8))
            throw new InvalidModelFileException(path, $"header length {n} runs past the end of the {file.Length}-byte file (truncated?)");
        if (n < 2 || file.Pointer[8] != (byte)'{')
            throw new InvalidModelFileException(path, "header does not start with '{' (not a safetensors file?)");
        long dataOffset = 8 + (long)n;
        long dataSize = file.Length - dataOffset;

        // Validated up front: the JSON reader only notices bad UTF-8 inside a string when it is read.
        var header = new ReadOnlySpan<byte>(file.Pointer + 8, (int)n);
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw new InvalidModelFileException(path, "header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidModelFileException(path, $"header is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidModelFileException(path, "header is not a JSON object");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<SafetensorsTensorInfo>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(prop.Name))
                    throw new InvalidModelFileException(path, $"header entry '{prop.Name}' appears twice");
                if (prop.Name == "__metadata__")
                    ReadMetadata(path, prop.Value, metadata);
                else
                    tensors.Add(ReadTensor(path, prop.Name, prop.Value, dataOffset, dataSize));
            }
            CheckNoOverlap(path, tensors);
            return new SafetensorsFile(file, dataOffset, tensors, metadata);
        }
    }

    static void ReadMetadata(string path, JsonElement e, Dictionary<string, string> metadata)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new InvalidModelFileException(path, "'__metadata__' is not a JSON object");
        foreach (var kv in e.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.String)
                throw new InvalidModelFileException(path, $"'__metadata__' entry '{kv.Name}' is not a string");
            if (!metadata.TryAdd(kv.Name, kv.Value.GetString()!))
                throw new InvalidModelFileException(path, $"'__metadata__' entry '{kv.Name}' appears twice");
        }
    }

    static SafetensorsTensorInfo ReadTensor(string path, string name, JsonElement e, long dataOffset, long dataSize)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new InvalidModelFileException(path, $"tensor '{name}': entry is not a JSON object");
        JsonElement dtypeEl = default, shapeEl = default, offsetsEl = default;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "dtype": dtypeEl = p.Value; break;
                case "shape": shapeEl = p.Value; break;
                case "data_offsets": offsetsEl = p.Value; break;
                default: break; // the reference library's serde struct ignores unknown fields too
            }
        }
        if (dtypeEl.ValueKind != JsonValueKind.String)
            throw new InvalidModelFileException(path, $"tensor '{name}': 'dtype' is missing or not a string");
        string dtype = dtypeEl.GetString()!;
        GgmlType type = dtype switch
        {
            "F32" => GgmlType.F32,
            "F16" => GgmlType.F16,
            "BF16" => GgmlType.BF16,
            _ => throw new InvalidModelFileException(path, $"tensor '{name}' has dtype {dtype}; only F32, F16 and BF16 are supported"),
        };
        long[] shape = ReadShape(path, name, shapeEl);
        (long begin, long end) = ReadOffsets(path, name, offsetsEl);
        long elementSize = type == GgmlType.F32 ? 4 : 2;
        long bytes = elementSize;
        foreach (long d in shape)
        {
            if (d != 0 && bytes > long.MaxValue / d)
                throw new InvalidModelFileException(path, $"tensor '{name}' shape [{string.Join(", ", shape)}] overflows");
            bytes *= d;
        }
        if (end < begin)
            throw new InvalidModelFileException(path, $"tensor '{name}' data_offsets [{begin}, {end}] end before they begin");
        if (end - begin != bytes)
            throw new InvalidModelFileException(path,
                $"tensor '{name}' {dtype} shape [{string.Join(", ", shape)}] needs {bytes} bytes but data_offsets [{begin}, {end}] span {end - begin}");
        if (end > dataSize)
            throw new InvalidModelFileException(path,
                $"tensor '{name}' data_offsets [{begin}, {end}] run past the end of the {dataSize}-byte data buffer (truncated?)");
        return new SafetensorsTensorInfo(name, type, shape, dataOffset + begin, bytes);
    }

    static long[] ReadShape(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Array)
            throw new InvalidModelFileException(path, $"tensor '{name}': 'shape' is missing or not an array");
        int rank = e.GetArrayLength();
        if (rank > MaxDims)
            throw new InvalidModelFileException(path, $"tensor '{name}' has {rank} dimensions (at most {MaxDims} allowed)");
        var shape = new long[rank];
        int i = 0;
        foreach (var d in e.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw new InvalidModelFileException(path, $"tensor '{name}': shape dimension {i} ({d.GetRawText()}) is not a non-negative integer");
            shape[i++] = v;
        }
        return shape;
    }

    static (long Begin, long End) ReadOffsets(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2)
            throw new InvalidModelFileException(path, $"tensor '{name}': 'data_offsets' is missing or not a pair");
        long begin = OffsetValue(path, name, e[0]);
        long end = OffsetValue(path, name, e[1]);
        return (begin, end);
    }

    static long OffsetValue(string path, string name, JsonElement e) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) && v >= 0 ? v
        : throw new InvalidModelFileException(path, $"tensor '{name}': data offset {e.GetRawText()} is not a non-negative integer");

    static void CheckNoOverlap(string path, List<SafetensorsTensorInfo> tensors)
    {
        var sorted = tensors.Where(t => t.ByteSize > 0).OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Offset < sorted[i - 1].Offset + sorted[i - 1].ByteSize)
                throw new InvalidModelFileException(path, $"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
        }
    }
}
