// A training checkpoint: everything needed to continue a run exactly where it stopped, in one file
// checkpoints/step-NNNNNN.ckpt of the run folder, written atomically (AtomicFile: temp name, flush,
// rename), so a kill at any moment leaves either the previous set of checkpoints or the new one.
// Layout (little-endian): "EDGECKPT", u32 version, u32 header length, UTF-8 JSON header {step,
// parameters, tensors [{name, rows, cols}], run config}, then F32 parameters, AdamW m, AdamW v
// (parameters each), then a u64 FNV-1a hash of every preceding byte. Not a model file: export GGUF.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeLM.Formats;

namespace EdgeLM.Training.Run;

public static class TrainingCheckpoint
{
    const string Magic = "EDGECKPT";
    const uint Version = 1;
    /// <summary>A header is a few KB per layer; this bounds what a corrupt length can make us allocate.</summary>
    const int MaxHeaderBytes = 16 << 20;

    public static string Folder(string runDir) => Path.Combine(runDir, "checkpoints");
    public static string FileName(int step) => $"step-{step:D6}.ckpt";

    /// <summary>Writes the checkpoint of <paramref name="step"/> completed steps and keeps the newest <paramref name="keep"/>.</summary>
    public static string Save(string runDir, Transformer model, AdamW optimizer, int step, RunConfig config, int keep)
    {
        string dir = Folder(runDir);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, FileName(step));
        var tensors = new JsonArray();
        foreach (var t in model.Parameters.Tensors) tensors.Add(new JsonObject { ["name"] = t.Name, ["rows"] = t.Rows, ["cols"] = t.Cols });
        var header = new JsonObject
        {
            ["step"] = step,
            ["parameters"] = model.Parameters.Count,
            ["vocab"] = model.Config.Model.VocabSize,
            ["tensors"] = tensors,
            ["config"] = config.ToJsonObject(),
        };
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        AtomicFile.Write(path, s =>
        {
            var hash = new HashingStream(s);
            Span<byte> head = stackalloc byte[16];
            Encoding.ASCII.GetBytes(Magic, head);
            BinaryPrimitives.WriteUInt32LittleEndian(head[8..], Version);
            BinaryPrimitives.WriteUInt32LittleEndian(head[12..], (uint)json.Length);
            hash.Write(head);
            hash.Write(json);
            hash.Write(MemoryMarshal.AsBytes(model.Parameters.Data.AsSpan()));
            hash.Write(MemoryMarshal.AsBytes(optimizer.M));
            hash.Write(MemoryMarshal.AsBytes(optimizer.V));
            Span<byte> tail = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(tail, hash.Hash);
            s.Write(tail);
        });
        Prune(dir, keep);
        return path;
    }

    /// <summary>The newest checkpoint of a run folder, or null.</summary>
    public static string? Newest(string runDir)
    {
        string dir = Folder(runDir);
        if (!Directory.Exists(dir)) return null;
        var files = Directory.GetFiles(dir, "step-*.ckpt");
        Array.Sort(files, StringComparer.Ordinal); // fixed-width step numbers sort in step order
        return files.Length == 0 ? null : files[^1];
    }

    static void Prune(string dir, int keep)
    {
        var files = Directory.GetFiles(dir, "step-*.ckpt");
        Array.Sort(files, StringComparer.Ordinal);
        for (int i = 0; i < files.Length - Math.Max(1, keep); i++) File.Delete(files[i]);
    }

    /// <summary>The JSON header (step, tensors, config) after checking magic, version and length.</summary>
    public static JsonObject ReadHeader(string path)
    {
        using var fs = File.OpenRead(path);
        return ReadHeader(path, fs);
    }

    static JsonObject ReadHeader(string path, Stream s)
    {
        Span<byte> head = stackalloc byte[16];
        if (s.Length < 24 || s.ReadAtLeast(head, 16, throwOnEndOfStream: false) < 16)
            throw new InvalidModelFileException(path, $"checkpoint is truncated ({s.Length} bytes)");
        if (Encoding.ASCII.GetString(head[..8]) != Magic) throw new InvalidModelFileException(path, "not an EdgeLM training checkpoint (bad magic)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
        if (version != Version) throw new InvalidModelFileException(path, $"checkpoint version {version} is not supported (expected {Version})");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(head[12..]);
        if (length > MaxHeaderBytes || 16 + length + 8 > s.Length)
            throw new InvalidModelFileException(path, $"header length {length} does not fit in the file ({s.Length} bytes)");
        var json = new byte[length];
        s.ReadExactly(json);
        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            throw new InvalidModelFileException(path, $"header is not valid JSON ({e.Message})");
        }
    }

    /// <summary>Restores parameters and AdamW moments; returns the step count. Every size is checked
    /// against <paramref name="model"/> before anything is overwritten.</summary>
    public static int Load(string path, Transformer model, AdamW optimizer)
    {
        using var fs = File.OpenRead(path);
        var header = ReadHeader(path, fs);
        long dataStart = fs.Position;
        int step = Int(header, "step", path);
        var p = model.Parameters;
        long count = Int(header, "parameters", path);
        if (count != p.Count) throw new InvalidModelFileException(path, $"'parameters' is {count}, the model has {p.Count}");
        CheckTensors(path, header, p);
        long expected = dataStart + 3L * count * sizeof(float) + 8;
        if (fs.Length != expected) throw new InvalidModelFileException(path, $"file is {fs.Length} bytes, expected {expected} for {count} parameters");
        // Read into scratch first: a bad hash must leave the model untouched.
        var data = new float[count];
        var m = new float[count];
        var v = new float[count];
        var hash = new Fnv1a();
        fs.Position = 0;
        var prefix = new byte[dataStart];
        fs.ReadExactly(prefix);
        hash.Add(prefix);
        foreach (var a in new[] { data, m, v })
        {
            var bytes = MemoryMarshal.AsBytes(a.AsSpan());
            fs.ReadExactly(bytes);
            hash.Add(bytes);
        }
        Span<byte> tail = stackalloc byte[8];
        fs.ReadExactly(tail);
        if (BinaryPrimitives.ReadUInt64LittleEndian(tail) != hash.Final())
            throw new InvalidModelFileException(path, "checksum mismatch: the checkpoint is corrupt");
        data.CopyTo(p.Data, 0);
        m.CopyTo(optimizer.M);
        v.CopyTo(optimizer.V);
        optimizer.Restore(step);
        return step;
    }

    static void CheckTensors(string path, JsonObject header, TransformerParameters p)
    {
        if (header["tensors"] is not JsonArray tensors) throw new InvalidModelFileException(path, "header has no 'tensors' list");
        if (tensors.Count != p.Tensors.Count)
            throw new InvalidModelFileException(path, $"{tensors.Count} tensors, the model has {p.Tensors.Count}");
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = p.Tensors[i];
            var e = tensors[i] as JsonObject ?? throw new InvalidModelFileException(path, $"tensor entry {i} is not an object");
            string? name = (string?)e["name"];
            if (name != t.Name || Int(e, "rows", path) != t.Rows || Int(e, "cols", path) != t.Cols)
                throw new InvalidModelFileException(path, $"tensor '{name}' [{e["rows"]}, {e["cols"]}] does not match the model's '{t.Name}' [{t.Rows}, {t.Cols}]");
        }
    }

    static int Int(JsonObject o, string key, string path)
    {
        try
        {
            return o[key]?.GetValue<int>() ?? throw new InvalidModelFileException(path, $"header key '{key}' is missing");
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new InvalidModelFileException(path, $"header key '{key}' is not an integer");
        }
    }

    /// <summary>FNV-1a over 64-bit words (and the tail bytes): cheap, and any flipped bit changes it.</summary>
    sealed class Fnv1a
    {
        const ulong Prime = 0x100000001B3UL;
        public ulong Hash { get; private set; } = 0xCBF29CE484222325UL;
        readonly byte[] _pending = new byte[8];
        int _pendingCount;

        public void Add(ReadOnlySpan<byte> bytes)
        {
            // Streams arrive in pieces of any length: words are formed across piece boundaries.
            while (_pendingCount > 0 && !bytes.IsEmpty) { _pending[_pendingCount++] = bytes[0]; bytes = bytes[1..]; Flush(); }
            var words = MemoryMarshal.Cast<byte, ulong>(bytes);
            ulong h = Hash;
            foreach (ulong w in words) h = (h ^ w) * Prime;
            Hash = h;
            foreach (byte b in bytes[(words.Length * 8)..]) _pending[_pendingCount++] = b;
        }

        void Flush()
        {
            if (_pendingCount < 8) return;
            Hash = (Hash ^ BinaryPrimitives.ReadUInt64LittleEndian(_pending)) * Prime;
            _pendingCount = 0;
        }

        /// <summary>The hash including any bytes that did not fill a word.</summary>
        public ulong Final()
        {
            ulong h = Hash;
            for (int i = 0; i < _pendingCount; i++) h = (h ^ _pending[i]) * Prime;
            return h;
        }
    }

    sealed class HashingStream(Stream inner)
    {
        readonly Fnv1a _fnv = new();
        public ulong Hash => _fnv.Final();
        public void Write(ReadOnlySpan<byte> bytes)
        {
            inner.Write(bytes);
            _fnv.Add(bytes);
        }
    }
}
