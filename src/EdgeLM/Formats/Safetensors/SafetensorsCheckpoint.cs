// A safetensors checkpoint as Hugging Face stores it: one model.safetensors, or shards listed by
// model.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor: shard file}}), as
// transformers' save_pretrained writes and llama.cpp's convert_hf_to_gguf.py reads. Validated when
// opened: shard names are plain file names inside the folder, every shard exists and parses, every
// mapped tensor is in its shard, and the shards hold no tensor the map does not list and no name twice.
// It is not a model: names stay Hugging Face's (see SafetensorsModelSource).
using System.Text.Json;

namespace EdgeLM.Formats.Safetensors;

/// <summary>A tensor and the shard that holds it.</summary>
public readonly record struct SafetensorsTensorRef(SafetensorsFile File, SafetensorsTensorInfo Info);

public sealed class SafetensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Index files are small JSON; a bigger one is refused before it is read.</summary>
    const long MaxIndexBytes = 64L << 20;

    readonly Dictionary<string, SafetensorsTensorRef> _byName;

    SafetensorsCheckpoint(string path, List<SafetensorsFile> shards, Dictionary<string, SafetensorsTensorRef> byName, List<SafetensorsTensorRef> ordered)
    {
        Path = path;
        Shards = shards;
        _byName = byName;
        Tensors = ordered;
    }

    /// <summary>The file, index or folder the checkpoint was opened from.</summary>
    public string Path { get; }
    public IReadOnlyList<SafetensorsFile> Shards { get; }

    /// <summary>All tensors, shard by shard, in header order.</summary>
    public IReadOnlyList<SafetensorsTensorRef> Tensors { get; }

    public SafetensorsTensorRef? Find(string name) => _byName.TryGetValue(name, out var r) ? r : null;

    /// <summary>Opens a .safetensors file, an index .json, or a folder holding either
    /// (the index wins; otherwise model.safetensors, otherwise the only *.safetensors file).</summary>
    public static SafetensorsCheckpoint Open(string path)
    {
        if (Directory.Exists(path))
        {
            string index = System.IO.Path.Combine(path, IndexFileName);
            if (File.Exists(index)) return OpenIndex(index);
            string single = System.IO.Path.Combine(path, SingleFileName);
            if (File.Exists(single)) return OpenFiles(path, [single], null);
            string[] all = Directory.GetFiles(path, "*.safetensors");
            return all.Length == 1 ? OpenFiles(path, [all[0]], null)
                : throw new InvalidModelFileException(path,
                    all.Length == 0 ? $"no {SingleFileName} or {IndexFileName} in the folder"
                    : $"{all.Length} .safetensors files but no {IndexFileName} to say how they fit together");
        }
        return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? OpenIndex(path) : OpenFiles(path, [path], null);
    }

    static SafetensorsCheckpoint OpenIndex(string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var shardNames = weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var shardPaths = new List<string>(shardNames.Count);
        foreach (string shard in shardNames)
        {
            if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                throw new InvalidModelFileException(indexPath, $"weight_map names shard '{shard}', which is not a plain file name");
            string p = System.IO.Path.Combine(folder, shard);
            if (!File.Exists(p))
                throw new InvalidModelFileException(indexPath, $"shard '{shard}' listed in weight_map does not exist");
            shardPaths.Add(p);
        }
        return OpenFiles(indexPath, shardPaths, weightMap);
    }

    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        if (!File.Exists(indexPath))
            throw new FileNotFoundException($"{indexPath}: file not found", indexPath);
        if (new FileInfo(indexPath).Length > MaxIndexBytes)
            throw new InvalidModelFileException(indexPath, $"index is larger than {MaxIndexBytes} bytes");
        byte[] bytes = File.ReadAllBytes(indexPath);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new InvalidModelFileException(indexPath, "index is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidModelFileException(indexPath, $"index is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidModelFileException(indexPath, "index has no 'weight_map' object");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var kv in map.EnumerateObject())
            {
                if (kv.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidModelFileException(indexPath, $"weight_map entry '{kv.Name}' is not a string");
                if (!result.TryAdd(kv.Name, kv.Value.GetString()!))
                    throw new InvalidModelFileException(indexPath, $"weight_map lists tensor '{kv.Name}' twice");
            }
            if (result.Count == 0)
                throw new InvalidModelFileException(indexPath, "weight_map is empty");
            return result;
        }
    }

    static SafetensorsCheckpoint OpenFiles(string path, List<string> files, Dictionary<string, string>? weightMap)
    {
        var shards = new List<SafetensorsFile>(files.Count);
        try
        {
            var byName = new Dictionary<string, SafetensorsTensorRef>(StringComparer.Ordinal);
            var ordered = new List<SafetensorsTensorRef>();
            foreach (string f in files)
            {
                var shard = SafetensorsFile.Open(f);
                shards.Add(shard);
                string shardName = System.IO.Path.GetFileName(f);
                foreach (var t in shard.Tensors)
                {
                    if (!byName.TryAdd(t.Name, new(shard, t)))
                        throw new InvalidModelFileException(f, $"tensor '{t.Name}' is also in {byName[t.Name].File.Path}");
                    if (weightMap is not null && (!weightMap.TryGetValue(t.Name, out string? mapped) || mapped != shardName))
                        throw new InvalidModelFileException(path, $"shard '{shardName}' holds tensor '{t.Name}', which weight_map "
                            + (mapped is null ? "does not list" : $"puts in '{mapped}'"));
                    ordered.Add(new(shard, t));
                }
            }
            if (weightMap is not null)
            {
                foreach (var (name, shard) in weightMap)
                {
                    if (!byName.ContainsKey(name))
                        throw new InvalidModelFileException(path, $"weight_map puts tensor '{name}' in shard '{shard}', which does not hold it");
                }
            }
            return new SafetensorsCheckpoint(path, shards, byName, ordered);
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var s in Shards) s.Dispose();
    }
}
