// edgelm merge BASE ADAPTER OUT.gguf [--scale S] [--type T]: folds a LoRA adapter (GGUF or PEFT folder)
// into its base and writes a GGUF. The math lives in LoraMerger; this parses, reports and names files.
using System.CommandLine;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tensors;
using EdgeLM.Tokenizers;

namespace EdgeLM.Cli;

public static class MergeCommand
{
    public static Command Create()
    {
        var baseModel = new Argument<string>("BASE") { Description = "the base model: a .gguf file or a Hugging Face safetensors folder" };
        var adapter = new Argument<string>("ADAPTER") { Description = "a GGUF LoRA adapter or a PEFT folder (adapter_config.json + adapter_model.safetensors)" };
        var dst = new Argument<string>("OUT") { Description = "the .gguf file to write" };
        var scale = new Option<float>("--scale") { Description = "how much of the adapter to fold in (1: as trained)", DefaultValueFactory = _ => 1f };
        var type = new Option<string?>("--type")
        {
            Description = "tensor type of every matrix in OUT (default: each keeps the base's type; quantized matrices are "
                + $"dequantized, folded and requantized to their own type, which adds one rounding): {string.Join(", ", GgmlTypes.StorageTypeNames)}",
        };
        var command = new Command("merge", "Fold a LoRA adapter into its base model and write a GGUF") { baseModel, adapter, dst, scale, type };
        command.SetAction((r, ct) => Commands.Guard(() => Task.FromResult(
            Run(r.GetValue(baseModel)!, r.GetValue(adapter)!, r.GetValue(dst)!, r.GetValue(scale), r.GetValue(type), ct))));
        return command;
    }

    static int Run(string basePath, string adapterPath, string dst, float scale, string? typeName, CancellationToken ct)
    {
        GgmlType? type = null;
        if (typeName is not null)
        {
            if (!GgmlTypes.TryParse(typeName, out var t) || t is GgmlType.Q8_1 or GgmlType.Q8_K)
                throw new ArgumentException($"unknown tensor type '{typeName}' (one of {string.Join(", ", GgmlTypes.StorageTypeNames)})");
            type = t;
        }
        if (!float.IsFinite(scale)) throw new ArgumentException($"--scale {scale} is not a finite number");
        if (Directory.Exists(dst)) throw new ArgumentException($"{dst} is a folder; give the .gguf file to write");

        using var model = DecoderModel.Load(ModelSources.Open(basePath));
        var lora = LoraFiles.Open(adapterPath, model.Config);
        var tokenizer = FindTokenizer(model.Source);
        if (tokenizer is null && !model.Source.Metadata.ContainsKey("tokenizer.ggml.model"))
            Console.Error.WriteLine("note: no tokenizer beside the base; OUT has none (convert it with --tokenizer to add one)");
        Console.Error.WriteLine($"folding {lora.Tensors.Count} adapted matrices (alpha {lora.Alpha}, scale {scale}) into {model.Config.Architecture} base");
        LoraMerger.Write(model, [new ScaledLora(lora, scale, adapterPath)], dst, type,
            tokenizer is null ? null : w => tokenizer.WriteTo(w), new ProgressLine("merging", "tensors"), ct);
        Console.Error.WriteLine($"wrote {dst} ({InfoCommand.Human(new FileInfo(dst).Length)})");
        return 0;
    }

    /// <summary>A tokenizer beside a non-GGUF base (a GGUF carries its own in its metadata).</summary>
    static TokenizerData? FindTokenizer(IModelSource source)
    {
        if (source is GgufModelSource) return null;
        string dir = Directory.Exists(source.Path) ? source.Path : Path.GetDirectoryName(Path.GetFullPath(source.Path))!;
        foreach (var name in new[] { "tokenizer.json", "tokenizer.model", "tokenizer.bin" })
        {
            string p = Path.Combine(dir, name);
            if (File.Exists(p)) return Tokenizer.LoadData(p);
        }
        return null;
    }
}
