// edgelm convert SRC OUT.gguf [--type T] [--tokenizer FILE]: a safetensors folder, a llama2.c
// checkpoint or a GGUF into GGUF of any tensor type; with OUT a folder, GGUF into safetensors.
using System.CommandLine;
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Formats.HuggingFace;
using EdgeLM.Models;
using EdgeLM.Tensors;
using EdgeLM.Tokenizers;

namespace EdgeLM.Cli;

public static class ConvertCommand
{
    public static Command Create()
    {
        var src = new Argument<string>("SRC") { Description = "a .gguf file, a safetensors folder or a llama2.c checkpoint (.bin)" };
        var dst = new Argument<string>("OUT") { Description = "the .gguf file to write, or a folder for safetensors" };
        var type = new Option<string>("--type") { Description = $"tensor type of the matrices: {string.Join(", ", GgmlTypes.StorageTypeNames)}", DefaultValueFactory = _ => "F32" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer.json, tokenizer.model or tokenizer.bin to embed" };
        var command = new Command("convert", "Convert a model to GGUF of a chosen type, or GGUF to safetensors") { src, dst, type, tokenizer };
        command.SetAction((r, ct) => Commands.Guard(() => Task.FromResult(Run(r.GetValue(src)!, r.GetValue(dst)!, r.GetValue(type)!, r.GetValue(tokenizer), ct))));
        return command;
    }

    static int Run(string src, string dst, string typeName, string? tokenizerPath, CancellationToken ct)
    {
        if (!GgmlTypes.TryParse(typeName, out var type) || type is GgmlType.Q8_1 or GgmlType.Q8_K)
            throw new ArgumentException($"unknown tensor type '{typeName}' (one of {string.Join(", ", GgmlTypes.StorageTypeNames)})");
        // Loading the model first validates it (architecture, every tensor's shape) before any time is
        // spent converting; the conversion then reads the same mapped source.
        using var model = DecoderModel.Load(ModelSources.Open(src));
        var source = model.Source;
        bool toGguf = dst.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);
        if (!toGguf)
            return ToSafetensors(source, dst, ct);

        var tokenizer = tokenizerPath is not null ? Tokenizer.LoadData(tokenizerPath) : FindTokenizer(source);
        if (tokenizer is null && !source.Metadata.ContainsKey("tokenizer.ggml.model"))
            throw new InvalidModelFileException(src, "no tokenizer: give one with --tokenizer (tokenizer.json, tokenizer.model or tokenizer.bin)");
        GgufConverter.Write(source, dst, type, tokenizer is null ? null : w => tokenizer.WriteTo(w),
            new ProgressLine("converting", "tensors"), ct);
        Console.Error.WriteLine($"wrote {dst} ({InfoCommand.Human(new FileInfo(dst).Length)})");
        return 0;
    }

    /// <summary>A tokenizer beside a non-GGUF source (tokenizer.json, tokenizer.model, tokenizer.bin).</summary>
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

    static int ToSafetensors(IModelSource source, string dst, CancellationToken ct)
    {
        if (File.Exists(dst)) throw new ArgumentException($"{dst} is a file; give a folder for safetensors output or a name ending in .gguf");
        var files = HfFolderWriter.Write(source, dst, new HfWriteOptions(Dequantize: Dequantize), ct);
        foreach (var f in files) Console.Error.WriteLine($"wrote {f}");
        if (source is GgufModelSource)
            Console.Error.WriteLine("note: the tokenizer is not written as tokenizer.json yet; copy the model's tokenizer files beside it");
        return 0;
    }

    static unsafe float[] Dequantize(TensorEntry t)
    {
        int cols = checked((int)t.Dimensions[0]);
        long rowBytes = GgmlTypes.RowBytes(t.Type, cols);
        var data = new float[t.ElementCount];
        for (long r = 0; r < t.Rows; r++)
            EdgeLM.Quantization.QuantKernels.Dequantize(t.Type, new ReadOnlySpan<byte>((byte*)t.Data + r * rowBytes, (int)rowBytes), data.AsSpan((int)(r * cols), cols));
        return data;
    }
}
