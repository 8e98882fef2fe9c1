// Opens an adapter by what its path is: a GGUF file (llama.cpp's LoRA format) or a PEFT folder
// (adapter_config.json + adapter_model.safetensors, or either file inside one), and the shape checks
// every adapter passes against its base before the engine or the merger uses it. Not a reader itself:
// LoraGgufReader and LoraPeftReader parse; this picks one and checks the result.
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;

namespace EdgeLM.Models.Lora;

/// <summary>An adapter file or folder to load, with its user scale (1: as trained).</summary>
public sealed record LoraRequest(string Path, float Scale = 1f)
{
    /// <summary>Parses "PATH" or "PATH:SCALE" (the scale after the last colon, when it is a number).</summary>
    public static LoraRequest Parse(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon > 0 && float.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.Float,
                System.Globalization.CultureInfo.InvariantCulture, out float scale))
        {
            if (!float.IsFinite(scale)) throw new ArgumentException($"--lora {text}: the scale must be a finite number");
            return new LoraRequest(text[..colon], scale);
        }
        return new LoraRequest(text);
    }
}

public static class LoraFiles
{
    /// <summary>Reads the adapter at <paramref name="path"/> for a base with <paramref name="baseConfig"/>
    /// (PEFT adapters need it to name and order their tensors as GGUF does).</summary>
    public static LoraAdapter Open(string path, ModelConfig baseConfig)
    {
        if (Directory.Exists(path)) return LoraPeftReader.Read(path, baseConfig);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such adapter file or folder", path);
        if (GgufFile.IsGguf(path)) return LoraGgufReader.Read(path);
        string name = System.IO.Path.GetFileName(path);
        if (name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return LoraPeftReader.Read(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, baseConfig);
        throw new InvalidModelFileException(path, "not a GGUF LoRA adapter or a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)");
    }

    /// <summary>Opens each request against the base and wraps it with its scale, ready for <see cref="DecoderModel.UseAdapters"/>.</summary>
    public static IReadOnlyList<ScaledLora> OpenAll(IEnumerable<LoraRequest> requests, ModelConfig baseConfig)
    {
        var list = new List<ScaledLora>();
        foreach (var r in requests) list.Add(new ScaledLora(Open(r.Path, baseConfig), r.Scale, r.Path));
        return list;
    }
}

/// <summary>The checks an adapter tensor passes against the base matrix it targets.</summary>
public static class LoraBaseCheck
{
    public static (int Layer, LoraSlot Slot, WeightMatrix W) Resolve(
        IReadOnlyDictionary<string, (int Layer, LoraSlot Slot, WeightMatrix W)> targets, LoraTensor t, string path)
    {
        if (t.Target == TensorNames.TokenEmbd)
            throw new InvalidModelFileException(path, $"tensor '{t.Target}.lora_a': adapting the token embedding is not supported");
        if (t.Target == TensorNames.Output && !targets.ContainsKey(t.Target))
            throw new InvalidModelFileException(path, $"tensor '{t.Target}.lora_a': the base ties its output head to the token embedding, which is not adapted");
        if (!targets.TryGetValue(t.Target, out var m))
            throw new InvalidModelFileException(path, $"tensor '{t.Target}.lora_a': the base model has no matrix '{t.Target}' to adapt");
        if (t.In != m.W.Cols)
            throw new InvalidModelFileException(path, $"tensor '{t.Target}.lora_a' takes inputs of {t.In} but the base's '{t.Target}' has {m.W.Cols} columns");
        if (t.Out != m.W.Rows)
            throw new InvalidModelFileException(path, $"tensor '{t.Target}.lora_b' gives outputs of {t.Out} but the base's '{t.Target}' has {m.W.Rows} rows");
        return m;
    }
}
