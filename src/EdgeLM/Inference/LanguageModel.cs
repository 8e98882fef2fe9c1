// The public entry point: a model with its tokenizer and chat template, loaded from a GGUF file, a
// Hugging Face safetensors folder or a llama2.c checkpoint. Sessions generate text from it.
//
//   using var model = LanguageModel.Load("model.gguf");
//   using var session = model.CreateSession();
//   await foreach (var piece in session.GenerateAsync("Once upon a time")) Console.Write(piece);
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tokenizers;

namespace EdgeLM.Inference;

public sealed record LoadOptions
{
    /// <summary>A tokenizer file to use instead of the model's own (required for llama2.c checkpoints
    /// without a tokenizer.bin / tokenizer.model beside them).</summary>
    public string? TokenizerPath { get; init; }
    /// <summary>LoRA adapters (GGUF files or PEFT folders) applied on top of the base without merging.</summary>
    public IReadOnlyList<LoraRequest> Adapters { get; init; } = [];
    /// <summary>Repack matrices that have a faster decode layout on this CPU at load (Q4_0, Q5_0, Q8_0, Q4_K, Q6_K with
    /// AVX-512 BW or AVX2 + FMA; F16 with AVX-512 BW): faster decoding. The copy replaces the mapped pages (prompts
    /// read it too, the pages are dropped); the other matrices are read from the file into memory (about their size,
    /// instead of the mapped pages).
    /// llama.cpp's --no-repack turns it off: everything stays mapped.</summary>
    public bool Repack { get; init; } = true;
}

public sealed class LanguageModel : IDisposable
{
    LanguageModel(DecoderModel decoder, Tokenizer tokenizer)
    {
        Decoder = decoder;
        Tokenizer = tokenizer;
    }

    public DecoderModel Decoder { get; }
    public Tokenizer Tokenizer { get; }
    public ModelConfig Config => Decoder.Config;
    /// <summary>The model's Jinja chat template, if it has one.</summary>
    public string? ChatTemplate => Tokenizer.Data.ChatTemplate;
    public string Path => Decoder.Source.Path;

    public static LanguageModel Load(string path, LoadOptions? options = null)
    {
        var source = ModelSources.Open(path);
        try
        {
            var tokenizer = options?.TokenizerPath is { } tp ? Tokenizer.Load(tp) : LoadTokenizer(source);
            // Building a 150K-token vocabulary leaves megabytes of garbage; hand it back now, so the
            // process's resident memory stays the mapped weights plus what is really in use.
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            var decoder = DecoderModel.Load(source, options?.Repack ?? true);
            if (tokenizer.VocabSize != decoder.Config.VocabSize)
                throw new InvalidModelFileException(path,
                    $"the tokenizer has {tokenizer.VocabSize} tokens but the model's embedding has {decoder.Config.VocabSize} rows");
            if (options?.Adapters is { Count: > 0 } adapters) decoder.UseAdapters(LoraFiles.OpenAll(adapters, decoder.Config));
            return new LanguageModel(decoder, tokenizer);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    static Tokenizer LoadTokenizer(IModelSource source)
    {
        if (source is GgufModelSource g) return Tokenizer.FromGguf(g.File);
        string dir = Directory.Exists(source.Path) ? source.Path : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(source.Path))!;
        foreach (var name in new[] { "tokenizer.json", "tokenizer.model", "tokenizer.bin" })
        {
            string candidate = System.IO.Path.Combine(dir, name);
            if (File.Exists(candidate)) return Tokenizer.Load(candidate);
        }
        throw new InvalidModelFileException(source.Path, "no tokenizer found beside the model (tokenizer.json, tokenizer.model or tokenizer.bin); give one with --tokenizer");
    }

    public InferenceSession CreateSession(SessionOptions? options = null) => new(this, options ?? new SessionOptions());

    public void Dispose() => Decoder.Dispose();
}
