// A Hugging Face model folder (config.json + model.safetensors or sharded safetensors) as a model
// source: tensors renamed to GGUF names and viewed in place in the mapped shards, shapes reversed
// to ggml order ([out, in] -> [in, out]), and config.json mapped to GGUF metadata as
// convert_hf_to_gguf.py does. Q/K rows are left in Hugging Face "rotate half" order for llama
// (QkRotateHalf): nothing is copied. The one tensor the source owns is rope_freqs.weight for Llama 3
// RoPE scaling, computed from config.json into native memory freed on Dispose. Every tensor's name
// and shape is checked against config.json when opened. tokenizer.json is not read here: the
// tokenizer layer reads it from <see cref="FolderPath"/>.
using System.Runtime.InteropServices;
using EdgeLM.Formats.Gguf;
using EdgeLM.Formats.HuggingFace;
using EdgeLM.Models;
using EdgeLM.Tensors;

namespace EdgeLM.Formats.Safetensors;

public sealed unsafe class SafetensorsModelSource : IModelSource
{
    readonly SafetensorsCheckpoint _checkpoint;
    void* _ropeFreqs;

    SafetensorsModelSource(string folder, HfConfig config, SafetensorsCheckpoint checkpoint)
    {
        FolderPath = folder;
        Config = config;
        _checkpoint = checkpoint;
        Metadata = config.ToGgufMetadata();
        var tensors = new List<TensorEntry>();
        if (config.Llama3RopeFreqs() is float[] freqs)
        {
            // Owned here, outside the managed heap, so its pointer stays valid like the mapped ones.
            long bytes = (long)freqs.Length * sizeof(float);
            _ropeFreqs = NativeMemory.Alloc((nuint)bytes);
            freqs.AsSpan().CopyTo(new Span<float>(_ropeFreqs, freqs.Length));
            tensors.Add(new TensorEntry("rope_freqs.weight", GgmlType.F32, [freqs.Length], (nint)_ropeFreqs, bytes));
        }
        foreach (var (file, info) in checkpoint.Tensors)
        {
            string? name = MapName(config, file.Path, info.Name);
            if (name is null) continue;
            long[] dims = info.Shape.Length == 0 ? [1] : info.Shape.Reverse().ToArray();
            tensors.Add(new TensorEntry(name, info.Type, dims, (nint)file.TensorPointer(info), info.ByteSize));
        }
        HfModelShapes.Check(config, checkpoint.Path, tensors);
        Tensors = tensors;
    }

    /// <summary>Opens a Hugging Face model folder (config.json and safetensors weights).</summary>
    public static SafetensorsModelSource Open(string folder)
    {
        if (!Directory.Exists(folder))
            throw new InvalidModelFileException(folder, "is not a folder (a Hugging Face model is a folder with config.json and safetensors)");
        var config = HfConfig.Load(System.IO.Path.Combine(folder, "config.json"));
        var checkpoint = SafetensorsCheckpoint.Open(folder);
        try
        {
            return new SafetensorsModelSource(folder, config, checkpoint);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    static string? MapName(HfConfig config, string file, string hfName)
    {
        if (HfTensorNames.IsIgnored(hfName)) return null;
        // Tied models may still carry lm_head; transformers ignores it and reuses the embedding.
        if (hfName == "lm_head.weight" && config.TieWordEmbeddings) return null;
        return HfTensorNames.ToGguf(hfName, config.NumLayers)
            ?? throw new InvalidModelFileException(file, $"tensor '{hfName}' is not part of a {config.Architecture} model (or its layer is not below num_hidden_layers {config.NumLayers})");
    }

    /// <summary>The model folder; tokenizer.json and tokenizer_config.json are read from here.</summary>
    public string FolderPath { get; }
    public string Path => FolderPath;
    public HfConfig Config { get; }
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }
    public IReadOnlyList<TensorEntry> Tensors { get; }

    /// <summary>Hugging Face stores llama Q/K rows in rotate-half order (transformers'
    /// convert_llama_weights_to_hf permutes them); qwen2/qwen3 are NeoX-style in llama.cpp too.</summary>
    public bool QkRotateHalf => Config.GgufArchitecture == "llama";

    public bool Evict(nint at, long length)
    {
        foreach (var shard in _checkpoint.Shards)
            if (shard.Mapping.Contains((byte*)at, length)) return shard.Mapping.Evict((byte*)at, length);
        return false;
    }

    public bool TryRead(nint at, Span<byte> dst)
    {
        foreach (var shard in _checkpoint.Shards)
            if (shard.Mapping.Contains((byte*)at, dst.Length))
            {
                shard.Mapping.Read((byte*)at, dst);
                return true;
            }
        return false;
    }

    public void Dispose()
    {
        _checkpoint.Dispose();
        if (_ropeFreqs is not null)
        {
            NativeMemory.Free(_ropeFreqs);
            _ropeFreqs = null;
        }
    }
}
