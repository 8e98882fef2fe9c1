// GGUF writer (version 3): metadata of every type including arrays, tensor directory, and tensor
// data padded to general.alignment. Data is written tensor by tensor from callbacks so a converted
// model never has to sit whole in memory. The file is written under a temporary name and renamed
// into place, so a crash or Ctrl+C never leaves a half-written model behind.
using System.Text;
using EdgeLM.Tensors;

namespace EdgeLM.Formats.Gguf;

public sealed class GgufWriter
{
    readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    readonly List<PendingTensor> _tensors = [];

    sealed record PendingTensor(string Name, GgmlType Type, long[] Dimensions, long ByteSize, Action<Stream> Write);

    public int Alignment { get; private set; } = GgufFile.DefaultAlignment;

    public GgufWriter Set(string key, GgufValue value)
    {
        int i = _metadata.FindIndex(kv => kv.Key == key);
        if (i >= 0) _metadata[i] = new(key, value);
        else _metadata.Add(new(key, value));
        if (key == "general.alignment") Alignment = checked((int)value.AsInt64());
        return this;
    }

    public GgufWriter Set(string key, string v) => Set(key, GgufValue.Of(v));
    public GgufWriter Set(string key, uint v) => Set(key, GgufValue.Of(v));
    public GgufWriter Set(string key, int v) => Set(key, GgufValue.Of(v));
    public GgufWriter Set(string key, float v) => Set(key, GgufValue.Of(v));
    public GgufWriter Set(string key, bool v) => Set(key, GgufValue.Of(v));
    public GgufWriter Set(string key, string[] v) => Set(key, GgufValue.Of(v));
    public GgufWriter Set(string key, float[] v) => Set(key, GgufValue.Of(v));
    public GgufWriter Set(string key, int[] v) => Set(key, GgufValue.Of(v));

    /// <summary>Adds a tensor whose bytes <paramref name="write"/> produces when the file is written.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] dimensions, Action<Stream> write)
    {
        if (_tensors.Exists(t => t.Name == name))
            throw new ArgumentException($"tensor '{name}' added twice", nameof(name));
        var info = GgmlTypes.Info(type);
        if (dimensions.Length is 0 or > 4 || dimensions[0] % info.BlockSize != 0)
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", dimensions)}] does not suit {info.Name}", nameof(dimensions));
        long elements = dimensions.Aggregate(1L, (a, d) => checked(a * d));
        _tensors.Add(new(name, type, (long[])dimensions.Clone(), elements / info.BlockSize * info.TypeSize, write));
        return this;
    }

    public GgufWriter AddTensor(string name, GgmlType type, long[] dimensions, ReadOnlyMemory<byte> data) =>
        AddTensor(name, type, dimensions, s => s.Write(data.Span));

    public GgufWriter AddTensor(string name, float[] data, params long[] dimensions) =>
        AddTensor(name, GgmlType.F32, dimensions, s => s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan())));

    /// <summary>Writes the file atomically: to a temporary name beside <paramref name="path"/>, then renamed.</summary>
    public void Write(string path, CancellationToken cancel = default) => AtomicFile.Write(path, s => WriteTo(s, cancel));

    public void WriteTo(Stream stream, CancellationToken cancel = default)
    {
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufFile.Magic);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }
        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Dimensions.Length);
            foreach (long d in t.Dimensions) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = GgufFile.AlignUp(offset + t.ByteSize, Alignment);
        }
        w.Flush();
        Pad(stream, Alignment);
        foreach (var t in _tensors)
        {
            cancel.ThrowIfCancellationRequested();
            AtomicFile.WriteExactly(stream, $"tensor '{t.Name}'", t.ByteSize, t.Write);
            Pad(stream, Alignment);
        }
    }

    static void Pad(Stream s, int alignment)
    {
        long pad = GgufFile.AlignUp(s.Position, alignment) - s.Position;
        for (long i = 0; i < pad; i++) s.WriteByte(0);
    }

    static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static void WriteValue(BinaryWriter w, GgufValue v)
    {
        switch (v.Value)
        {
            case byte x: w.Write(x); break;
            case sbyte x: w.Write(x); break;
            case ushort x: w.Write(x); break;
            case short x: w.Write(x); break;
            case uint x: w.Write(x); break;
            case int x: w.Write(x); break;
            case float x: w.Write(x); break;
            case ulong x: w.Write(x); break;
            case long x: w.Write(x); break;
            case double x: w.Write(x); break;
            case bool x: w.Write((byte)(x ? 1 : 0)); break;
            case string x: WriteString(w, x); break;
            case Array a:
                w.Write((uint)v.ElementType);
                w.Write((ulong)a.Length);
                foreach (object? e in a)
                    WriteValue(w, new GgufValue(v.ElementType, e!));
                break;
            default: throw new ArgumentException($"cannot write metadata value of type {v.Value.GetType()}");
        }
    }
}
