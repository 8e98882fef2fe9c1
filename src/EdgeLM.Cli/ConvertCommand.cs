// edgelm convert SRC OUT.gguf [--type T] [--tokenizer FILE]: a safetensors folder, a llama2.c
// checkpoint or a GGUF into GGUF of any tensor type; with OUT a folder, GGUF into safetensors (plus
// tokenizer.json and tokenizer_config.json from the GGUF's tokenizer metadata). Tokenizers alone:
// SRC a tokenizer.json / tokenizer.model / BERT vocab.txt with OUT.gguf writes a vocabulary-only GGUF; any tokenizer
// source (a GGUF model or vocabulary included) with --to tokenizer.json writes OUT/tokenizer.json
// and OUT/tokenizer_config.json.
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
        var to = new Option<string>("--to") { Description = "what to write: 'model' (default), or 'tokenizer.json' (only the tokenizer, into the folder OUT)", DefaultValueFactory = _ => "model" };
        var command = new Command("convert", "Convert a model to GGUF of a chosen type, GGUF to safetensors, or a tokenizer between GGUF and tokenizer.json") { src, dst, type, tokenizer, to };
        command.SetAction((r, ct) => Commands.Guard(() => Task.FromResult(Dispatch(r.GetValue(src)!, r.GetValue(dst)!, r.GetValue(type)!, r.GetValue(tokenizer), r.GetValue(to)!, ct))));
        return command;
    }

    static int Dispatch(string src, string dst, string typeName, string? tokenizerPath, string to, CancellationToken ct)
    {
        if (to is "tokenizer.json" or "tokenizer")
            return TokenizerToJson(src, dst);
        if (to != "model")
            throw new ArgumentException($"--to '{to}' is not known (one of: model, tokenizer.json)");
        string ext = Path.GetExtension(src).ToLowerInvariant();
        if (File.Exists(src) && ext is ".json" or ".model" or ".txt")
            return TokenizerToGguf(src, dst);
        return Run(src, dst, typeName, tokenizerPath, ct);
    }

    /// <summary>Any tokenizer source (GGUF model or vocabulary, tokenizer.json, .model, llama2.c .bin) → OUT/tokenizer.json + OUT/tokenizer_config.json.</summary>
    static int TokenizerToJson(string src, string dir)
    {
        if (File.Exists(dir)) throw new ArgumentException($"{dir} is a file; --to tokenizer.json writes into a folder");
        var data = Tokenizer.LoadData(src);
        foreach (var f in TokenizerJson.WriteFolder(data, dir)) Console.Error.WriteLine($"wrote {f}");
        return 0;
    }

    /// <summary>tokenizer.json (with tokenizer_config.json beside it), a SentencePiece .model or a BERT vocab.txt → a vocabulary-only GGUF.</summary>
    static int TokenizerToGguf(string src, string dst)
    {
        if (!dst.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{dst}: a tokenizer converts to a vocabulary-only .gguf, or use --to tokenizer.json");
        var data = Tokenizer.LoadData(src);
        data.ToVocabOnlyGguf(Path.GetFileNameWithoutExtension(dst)).Write(dst);
        Console.Error.WriteLine($"wrote {dst} ({data.VocabSize} tokens, tokenizer.ggml.model '{data.Model}')");
        return 0;
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
        if (source is not GgufModelSource) return 0;
        if (source.Metadata.ContainsKey("tokenizer.ggml.model"))
        {
            try
            {
                foreach (var f in TokenizerJson.WriteFolder(Tokenizer.LoadData(source.Path), dst)) Console.Error.WriteLine($"wrote {f}");
            }
            catch (NotSupportedException e)
            {
                // The weights are written; a vocabulary with no tokenizer.json form (an unknown pre-tokenizer) only loses that file.
                Console.Error.WriteLine($"note: tokenizer.json not written: {e.Message}");
            }
        }
        else
            Console.Error.WriteLine("note: the source has no tokenizer metadata; copy the model's tokenizer files beside it");
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
