// GGUF reader (versions 2 and 3, little-endian), after ggml's docs/gguf.md. The file is memory-mapped
// and validated whole when opened: magic, version, counts, every key and value, every tensor's
// type, shape, byte size, alignment and bounds, and that no two tensors overlap. Nothing is
// allocated in proportion to a count read from the file before that count has been checked against
// the bytes that remain. After Open, tensor data is viewed in place.
using System.Text;
using EdgeLM.Tensors;

namespace EdgeLM.Formats.Gguf;

/// <summary>One tensor's directory entry. <see cref="Dimensions"/> are in ggml order: [0] is the row length.</summary>
public sealed record GgufTensorInfo(string Name, GgmlType Type, long[] Dimensions, long Offset, long ByteSize)
{
    public long ElementCount => Dimensions.Aggregate(1L, (a, d) => a * d);
}

public sealed unsafe class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747; // "GGUF"
    public const int DefaultAlignment = 32;
    const int MaxDims = 4;

    readonly MappedFile _file;
    readonly Dictionary<string, GgufValue> _metadata;
    readonly Dictionary<string, GgufTensorInfo> _tensorsByName;

    GgufFile(MappedFile file, uint version, List<KeyValuePair<string, GgufValue>> metadata,
        List<GgufTensorInfo> tensors, long dataOffset, int alignment)
    {
        _file = file;
        Version = version;
        MetadataList = metadata;
        _metadata = new Dictionary<string, GgufValue>(metadata, StringComparer.Ordinal);
        Tensors = tensors;
        _tensorsByName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        DataOffset = dataOffset;
        Alignment = alignment;
    }

    public string Path => _file.Path;
    public uint Version { get; }
    public long FileSize => _file.Length;
    public long DataOffset { get; }
    public int Alignment { get; }
    public IReadOnlyList<KeyValuePair<string, GgufValue>> MetadataList { get; }
    public IReadOnlyDictionary<string, GgufValue> Metadata => _metadata;
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    public static GgufFile Open(string path)
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

    /// <summary>True when the file starts with the GGUF magic.</summary>
    public static bool IsGguf(string path)
    {
        if (!File.Exists(path)) return false;
        using var s = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return s.Read(head) == 4 && BitConverter.ToUInt32(head) == Magic;
    }

    public GgufTensorInfo? FindTensor(string name) => _tensorsByName.GetValueOrDefault(name);

    public GgufTensorInfo GetTensor(string name) =>
        FindTensor(name) ?? throw new InvalidModelFileException(Path, $"tensor '{name}' is missing");

    /// <summary>Pointer to a tensor's first byte inside the map.</summary>
    public byte* TensorPointer(GgufTensorInfo t) => _file.Pointer + DataOffset + t.Offset;

    public ReadOnlySpan<byte> TensorData(GgufTensorInfo t) =>
        t.ByteSize <= int.MaxValue
            ? new ReadOnlySpan<byte>(TensorPointer(t), (int)t.ByteSize)
            : throw new InvalidOperationException($"{Path}: tensor '{t.Name}' is larger than 2 GiB; read it by rows");

    public MappedFile Mapping => _file;

    // ---- typed metadata access -------------------------------------------------------------------

    public bool Has(string key) => _metadata.ContainsKey(key);

    public string? GetString(string key) =>
        _metadata.TryGetValue(key, out var v) ? v.Value as string ?? throw WrongType(key, v, "string") : null;

    public string GetRequiredString(string key) => GetString(key) ?? throw Missing(key);

    public long? GetInteger(string key)
    {
        if (!_metadata.TryGetValue(key, out var v)) return null;
        if (v.Value is ulong u && u > long.MaxValue)
            throw new InvalidModelFileException(Path, $"metadata key '{key}' is {u}, too large for a signed 64-bit integer");
        return v.IsInteger || v.Type == GgufValueType.Bool ? v.AsInt64() : throw WrongType(key, v, "integer");
    }

    public long GetRequiredInteger(string key) => GetInteger(key) ?? throw Missing(key);

    public double? GetNumber(string key)
    {
        if (!_metadata.TryGetValue(key, out var v)) return null;
        if (v.Value is ulong u) return u; // AsDouble goes through AsInt64, which overflows above long.MaxValue
        return v.IsInteger || v.Type is GgufValueType.Float32 or GgufValueType.Float64
            ? v.AsDouble() : throw WrongType(key, v, "number");
    }

    public bool? GetBool(string key)
    {
        if (!_metadata.TryGetValue(key, out var v)) return null;
        return v.Value is bool b ? b : v.Value is ulong u ? u != 0 : v.IsInteger ? v.AsInt64() != 0 : throw WrongType(key, v, "bool");
    }

    public T[]? GetArray<T>(string key)
    {
        if (!_metadata.TryGetValue(key, out var v)) return null;
        // Exact type: `as T[]` would also accept a uint[] for int[] (array covariance of same-size integers).
        return v.Value.GetType() == typeof(T[]) ? (T[])v.Value : throw WrongType(key, v, $"array of {typeof(T).Name}");
    }

    /// <summary>An integer array of any element width, widened to int (token types, per-layer counts).</summary>
    public int[]? GetInt32Array(string key)
    {
        if (!_metadata.TryGetValue(key, out var v)) return null;
        try
        {
            return WidenToInt32(key, v);
        }
        catch (OverflowException)
        {
            throw new InvalidModelFileException(Path, $"metadata key '{key}' has an element outside the 32-bit integer range");
        }
    }

    int[] WidenToInt32(string key, GgufValue v)
    {
        // Switch on the element type, not with `is int[]`: the runtime lets a uint[] pass as an int[]
        // (and ulong[] as long[]), which would turn 4294967295 into -1 without a word.
        if (v.Type != GgufValueType.Array) throw WrongType(key, v, "integer array");
        return v.ElementType switch
        {
            GgufValueType.Int32 => (int[])v.Value,
            GgufValueType.UInt32 => Array.ConvertAll((uint[])v.Value, x => checked((int)x)),
            GgufValueType.Int16 => Array.ConvertAll((short[])v.Value, x => (int)x),
            GgufValueType.UInt16 => Array.ConvertAll((ushort[])v.Value, x => (int)x),
            GgufValueType.Int8 => Array.ConvertAll((sbyte[])v.Value, x => (int)x),
            GgufValueType.UInt8 => Array.ConvertAll((byte[])v.Value, x => (int)x),
            GgufValueType.Int64 => Array.ConvertAll((long[])v.Value, x => checked((int)x)),
            GgufValueType.UInt64 => Array.ConvertAll((ulong[])v.Value, x => checked((int)x)),
            _ => throw WrongType(key, v, "integer array"),
        };
    }

    InvalidModelFileException Missing(string key) => new(Path, $"metadata key '{key}' is missing");

    InvalidModelFileException WrongType(string key, GgufValue v, string wanted) =>
        new(Path, $"metadata key '{key}' has type {v.Type}{(v.Type == GgufValueType.Array ? $" of {v.ElementType}" : "")}, expected {wanted}");

    public void Dispose() => _file.Dispose();

    // ---- parsing ---------------------------------------------------------------------------------

    static GgufFile Parse(MappedFile file)
    {
        var r = new Reader(file);
        if (file.Length < 24)
            throw new InvalidModelFileException(file.Path, $"file is {file.Length} bytes, too short for a GGUF header");
        uint magic = r.U32("magic");
        if (magic != Magic)
            throw new InvalidModelFileException(file.Path, $"not a GGUF file (magic 0x{magic:X8}, expected 0x{Magic:X8} \"GGUF\")");
        uint version = r.U32("version");
        if (version is not (2 or 3))
            throw new InvalidModelFileException(file.Path,
                version == 1 ? "GGUF version 1 is not supported (expected 2 or 3)"
                : $"unsupported GGUF version {version} (expected 2 or 3; a big-endian file reads as a huge version)");
        ulong tensorCount = r.U64("tensor count");
        ulong kvCount = r.U64("metadata count");
        // Each key-value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 8 + 4 + 8.
        if (kvCount > (ulong)r.Remaining / 13)
            throw new InvalidModelFileException(file.Path, $"metadata count {kvCount} cannot fit in the file");
        if (tensorCount > (ulong)r.Remaining / 32)
            throw new InvalidModelFileException(file.Path, $"tensor count {tensorCount} cannot fit in the file");

        var metadata = new List<KeyValuePair<string, GgufValue>>((int)kvCount);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = r.String($"key of metadata entry {i}");
            if (!keys.Add(key))
                throw new InvalidModelFileException(file.Path, $"metadata key '{key}' appears twice");
            var type = (GgufValueType)r.U32($"type of metadata key '{key}'");
            metadata.Add(new(key, r.Value(type, key)));
        }

        int alignment = DefaultAlignment;
        var alignValue = metadata.FirstOrDefault(kv => kv.Key == "general.alignment").Value;
        if (alignValue is not null)
        {
            // A u64 above long.MaxValue would overflow AsInt64: test the range before converting.
            long a = alignValue.IsInteger && !(alignValue.Value is ulong u && u > int.MaxValue) ? alignValue.AsInt64() : -1;
            if (a <= 0 || a > 1 << 20 || (a & (a - 1)) != 0)
                throw new InvalidModelFileException(file.Path, $"metadata key 'general.alignment' is {alignValue}, expected a power of two");
            alignment = (int)a;
        }

        var infos = new List<(string Name, GgmlType Type, long[] Dims, ulong Offset)>((int)tensorCount);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = r.String($"name of tensor {i}");
            if (!names.Add(name))
                throw new InvalidModelFileException(file.Path, $"tensor '{name}' appears twice");
            uint nDims = r.U32($"dimension count of tensor '{name}'");
            if (nDims is 0 or > MaxDims)
                throw new InvalidModelFileException(file.Path, $"tensor '{name}' has {nDims} dimensions (1 to {MaxDims} allowed)");
            var dims = new long[nDims];
            for (int d = 0; d < nDims; d++)
            {
                ulong n = r.U64($"dimension {d} of tensor '{name}'");
                if (n == 0 || n > long.MaxValue / 2)
                    throw new InvalidModelFileException(file.Path, $"tensor '{name}' has dimension {d} = {n}");
                dims[d] = (long)n;
            }
            uint rawType = r.U32($"type of tensor '{name}'");
            var type = (GgmlType)rawType;
            if (!GgmlTypes.IsKnown(type))
                throw new InvalidModelFileException(file.Path, $"tensor '{name}' has unknown or unsupported type {rawType}");
            ulong offset = r.U64($"offset of tensor '{name}'");
            infos.Add((name, type, dims, offset));
        }

        long dataOffset = AlignUp(r.Position, alignment);
        if (dataOffset > file.Length && infos.Count > 0)
            throw new InvalidModelFileException(file.Path, "file ends before the tensor data section");
        long dataSize = Math.Max(0, file.Length - dataOffset);

        var tensors = new List<GgufTensorInfo>(infos.Count);
        foreach (var (name, type, dims, offset) in infos)
        {
            var info = GgmlTypes.Info(type);
            long elements = 1;
            foreach (long d in dims)
            {
                if (d > long.MaxValue / elements)
                    throw new InvalidModelFileException(file.Path, $"tensor '{name}' shape [{string.Join(", ", dims)}] overflows");
                elements *= d;
            }
            if (dims[0] % info.BlockSize != 0)
                throw new InvalidModelFileException(file.Path,
                    $"tensor '{name}' of type {info.Name} has row length {dims[0]}, not a multiple of the block size {info.BlockSize}");
            // elements / BlockSize * TypeSize can wrap (2^62 F32 elements is 2^64 bytes, i.e. 0): checked.
            long blocks = elements / info.BlockSize;
            if (blocks > long.MaxValue / info.TypeSize)
                throw new InvalidModelFileException(file.Path, $"tensor '{name}' shape [{string.Join(", ", dims)}] is too large ({info.Name} byte size overflows)");
            long bytes = blocks * info.TypeSize;
            if (offset % (ulong)alignment != 0)
                throw new InvalidModelFileException(file.Path, $"tensor '{name}' offset {offset} is not aligned to {alignment}");
            if (offset > (ulong)dataSize || (ulong)bytes > (ulong)dataSize - offset)
                throw new InvalidModelFileException(file.Path,
                    $"tensor '{name}' ({bytes} bytes at data offset {offset}) runs past the end of the file (data section is {dataSize} bytes; truncated?)");
            tensors.Add(new GgufTensorInfo(name, type, dims, (long)offset, bytes));
        }

        var sorted = tensors.OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Offset < sorted[i - 1].Offset + sorted[i - 1].ByteSize)
                throw new InvalidModelFileException(file.Path, $"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
        }
        return new GgufFile(file, version, metadata, tensors, dataOffset, alignment);
    }

    internal static long AlignUp(long x, int alignment) => (x + alignment - 1) / alignment * alignment;

    /// <summary>Bounds-checked cursor over the map; every read names what it was reading when it fails.</summary>
    ref struct Reader
    {
        readonly MappedFile _file;
        long _pos;

        public Reader(MappedFile file)
        {
            _file = file;
            _pos = 0;
        }

        public readonly long Position => _pos;
        public readonly long Remaining => _file.Length - _pos;

        byte* Take(long n, string what)
        {
            if (n < 0 || n > Remaining)
                throw new InvalidModelFileException(_file.Path, $"file ends while reading {what} at offset {_pos} (truncated?)");
            byte* p = _file.Pointer + _pos;
            _pos += n;
            return p;
        }

        public uint U32(string what) => *(uint*)Take(4, what);
        public ulong U64(string what) => *(ulong*)Take(8, what);

        public string String(string what)
        {
            ulong len = U64(what);
            // Also capped at 1 GiB: a string is decoded into one .NET string, which cannot exceed that.
            if (len > (ulong)Remaining || len > 1 << 30)
                throw new InvalidModelFileException(_file.Path, $"{what}: string length {len} runs past the end of the file or exceeds 1 GiB");
            byte* p = Take((long)len, what);
            try
            {
                return Utf8Strict.GetString(p, (int)len);
            }
            catch (DecoderFallbackException)
            {
                throw new InvalidModelFileException(_file.Path, $"{what}: string at offset {_pos - (long)len} is not valid UTF-8");
            }
        }

        public GgufValue Value(GgufValueType type, string key)
        {
            string what = $"value of metadata key '{key}'";
            switch (type)
            {
                case GgufValueType.UInt8: return new(type, *Take(1, what));
                case GgufValueType.Int8: return new(type, *(sbyte*)Take(1, what));
                case GgufValueType.UInt16: return new(type, *(ushort*)Take(2, what));
                case GgufValueType.Int16: return new(type, *(short*)Take(2, what));
                case GgufValueType.UInt32: return new(type, *(uint*)Take(4, what));
                case GgufValueType.Int32: return new(type, *(int*)Take(4, what));
                case GgufValueType.Float32: return new(type, *(float*)Take(4, what));
                case GgufValueType.UInt64: return new(type, *(ulong*)Take(8, what));
                case GgufValueType.Int64: return new(type, *(long*)Take(8, what));
                case GgufValueType.Float64: return new(type, *(double*)Take(8, what));
                case GgufValueType.Bool:
                    byte b = *Take(1, what);
                    if (b > 1) throw new InvalidModelFileException(_file.Path, $"metadata key '{key}': bool value {b}");
                    return new(type, b == 1);
                case GgufValueType.String: return new(type, String(what));
                case GgufValueType.Array: return Array(key);
                default:
                    throw new InvalidModelFileException(_file.Path, $"metadata key '{key}' has unknown value type {(uint)type}");
            }
        }

        GgufValue Array(string key)
        {
            string what = $"array of metadata key '{key}'";
            var et = (GgufValueType)U32(what);
            ulong count = U64(what);
            int size = et switch
            {
                GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
                GgufValueType.UInt16 or GgufValueType.Int16 => 2,
                GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
                GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
                GgufValueType.String => 8, // at least the length prefix
                GgufValueType.Array => throw new InvalidModelFileException(_file.Path, $"metadata key '{key}': nested arrays are not supported"),
                _ => throw new InvalidModelFileException(_file.Path, $"metadata key '{key}': unknown array element type {(uint)et}"),
            };
            if (count > (ulong)Remaining / (ulong)size || count > int.MaxValue)
                throw new InvalidModelFileException(_file.Path, $"metadata key '{key}': array of {count} {et} values cannot fit in the file");
            int n = (int)count;
            object value = et switch
            {
                GgufValueType.String => ReadStrings(n, key),
                GgufValueType.UInt8 => Copy<byte>(n, what),
                GgufValueType.Int8 => Copy<sbyte>(n, what),
                GgufValueType.UInt16 => Copy<ushort>(n, what),
                GgufValueType.Int16 => Copy<short>(n, what),
                GgufValueType.UInt32 => Copy<uint>(n, what),
                GgufValueType.Int32 => Copy<int>(n, what),
                GgufValueType.Float32 => Copy<float>(n, what),
                GgufValueType.UInt64 => Copy<ulong>(n, what),
                GgufValueType.Int64 => Copy<long>(n, what),
                GgufValueType.Float64 => Copy<double>(n, what),
                GgufValueType.Bool => Bools(n, key),
                _ => throw new InvalidOperationException(),
            };
            return new GgufValue(GgufValueType.Array, value, et);
        }

        string[] ReadStrings(int n, string key)
        {
            var a = new string[n];
            for (int i = 0; i < n; i++)
                a[i] = String($"element {i} of metadata key '{key}'");
            return a;
        }

        T[] Copy<T>(int n, string what) where T : unmanaged
        {
            byte* p = Take((long)n * sizeof(T), what);
            return new ReadOnlySpan<T>(p, n).ToArray();
        }

        bool[] Bools(int n, string key)
        {
            byte* p = Take(n, key);
            var a = new bool[n];
            for (int i = 0; i < n; i++)
            {
                if (p[i] > 1) throw new InvalidModelFileException(_file.Path, $"metadata key '{key}': bool value {p[i]} at element {i}");
                a[i] = p[i] == 1;
            }
            return a;
        }
    }

    static readonly UTF8Encoding Utf8Strict = new(false, true);
}
