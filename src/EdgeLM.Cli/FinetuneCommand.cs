// edgelm finetune BASE --data FILE --out DIR [--lora-rank R] [--lora-alpha A] [--targets q,k,v,...]
// [--full] [--steps N --batch N --ctx N --lr X --seed N --threads N] [--checkpoint] [--logit-rows N] [--tiled-loss] [--stream-weights]: fine-tunes a base model on a
// text file. By default only LoRA adapters train (the base is frozen) and DIR receives adapter.gguf
// (llama.cpp's --lora) plus adapter_model.safetensors and adapter_config.json (Hugging Face PEFT);
// with --full every parameter trains and DIR receives model.gguf. Files are written only when
// training ends, each atomically, so Ctrl+C leaves no partial file. --checkpoint recomputes each block
// during the backward pass instead of keeping its activations, and --logit-rows bounds the logits
// buffer (--tiled-loss, LoRA only: none at all), for long contexts in little memory; --stream-weights (LoRA, GGUF)
// reads the frozen matrices from the file tile by tile instead of mapping them into the resident set. The math is in Training.
using System.CommandLine;
using System.Diagnostics;
using EdgeLM.Formats.Gguf;
using EdgeLM.Kernels;
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Tokenizers;
using EdgeLM.Training;
using EdgeLM.Training.Lora;

namespace EdgeLM.Cli;

public static class FinetuneCommand
{
    sealed record Settings(string Base, string Data, string Out, int Rank, float Alpha, string Targets, bool Full,
        int Steps, int Batch, int Ctx, float Lr, int Seed, int? Threads, bool Checkpoint, int LogitRows, bool TiledLoss,
        bool StreamWeights);

    public static Command Create()
    {
        var model = new Argument<string>("BASE") { Description = "the base model (.gguf, any tensor type the engine loads)" };
        var data = new Option<string>("--data") { Description = "UTF-8 text file to train on", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "folder for the adapter (or model.gguf with --full)", Required = true };
        var rank = new Option<int>("--lora-rank") { Description = "adapter rank r", DefaultValueFactory = _ => 8 };
        var alpha = new Option<float>("--lora-alpha") { Description = "adapter alpha (scale = alpha / r)", DefaultValueFactory = _ => 16f };
        var targets = new Option<string>("--targets") { Description = "projections to adapt", DefaultValueFactory = _ => "q,k,v,o,gate,up,down" };
        var full = new Option<bool>("--full") { Description = "train every base parameter instead of adapters" };
        var steps = new Option<int>("--steps") { Description = "optimizer steps", DefaultValueFactory = _ => 200 };
        var batch = new Option<int>("--batch", "-b") { Description = "windows per step", DefaultValueFactory = _ => 8 };
        var ctx = new Option<int>("--ctx", "-c") { Description = "tokens per window", DefaultValueFactory = _ => 128 };
        var lr = new Option<float>("--lr") { Description = "peak learning rate (warmup, then cosine to a tenth)", DefaultValueFactory = _ => 3e-4f };
        var seed = new Option<int>("--seed", "-s") { Description = "seed for the adapters' initialisation and the batches", DefaultValueFactory = _ => 1 };
        var threads = new Option<int?>("--threads", "-t") { Description = "worker threads (default: one per core)" };
        var checkpoint = new Option<bool>("--checkpoint") { Description = "recompute each block in the backward pass instead of keeping its activations (less memory, ~1/3 more time)" };
        var tiledLoss = new Option<bool>("--tiled-loss") { Description = "LoRA: compute the loss over vocabulary tiles of the quantized head, with no logits buffer" };
        var streamWeights = new Option<bool>("--stream-weights") { Description = "LoRA: read the frozen matrices from the file tile by tile instead of mapping them (the file stays in the page cache, not the process's memory)" };
        var logitRows = new Option<int>("--logit-rows") { Description = "rows of logits computed at once (0: the whole batch)", DefaultValueFactory = _ => 0 };
        var command = new Command("finetune", "Fine-tune a model on a text file: LoRA adapters, or every parameter with --full")
        {
            model, data, output, rank, alpha, targets, full, steps, batch, ctx, lr, seed, threads, checkpoint, logitRows, tiledLoss, streamWeights,
        };
        command.SetAction((r, ct) => Commands.Guard(() => Task.FromResult(Run(new Settings(r.GetValue(model)!, r.GetValue(data)!,
            r.GetValue(output)!, r.GetValue(rank), r.GetValue(alpha), r.GetValue(targets)!, r.GetValue(full), r.GetValue(steps),
            r.GetValue(batch), r.GetValue(ctx), r.GetValue(lr), r.GetValue(seed), r.GetValue(threads), r.GetValue(checkpoint), r.GetValue(logitRows), r.GetValue(tiledLoss),
            r.GetValue(streamWeights)), ct))));
        return command;
    }

    static int Run(Settings s, CancellationToken ct)
    {
        if (s.Steps <= 0 || s.Batch <= 0 || s.Ctx <= 1) throw new ArgumentException("--steps and --batch must be positive and --ctx at least 2");
        if (!s.Full && s.Rank <= 0) throw new ArgumentException($"--lora-rank {s.Rank} must be positive");
        if (s.LogitRows < 0) throw new ArgumentException($"--logit-rows {s.LogitRows} must not be negative");
        if (s.Full && s.TiledLoss) throw new ArgumentException("--tiled-loss needs the frozen quantized head of LoRA, not --full");
        if (s.Full && s.StreamWeights) throw new ArgumentException("--stream-weights streams the frozen base of LoRA; --full trains (and holds) every weight");
        var activations = new ActivationOptions { Checkpoint = s.Checkpoint, LogitRows = s.LogitRows, VocabTiledLoss = s.TiledLoss };
        var targets = s.Full ? [] : LinearTargets.Parse(s.Targets);
        var tokenizer = Tokenizer.Load(s.Base);
        // LoRA keeps the base's projections in the mapped file, in their stored type (QLoRA-style).
        QuantizedProjections? frozen = null;
        Transformer m;
        if (s.Full) m = TransformerGguf.Load(s.Base, s.Batch, s.Ctx, activations);
        else (m, frozen) = QuantizedProjections.Load(s.Base, s.Batch, s.Ctx, activations, s.StreamWeights);
        using var frozenScope = frozen;
        if (frozen is not null)
            Console.Error.WriteLine($"frozen matrices: {frozen.StoredBytes / 1048576.0:F1} MiB {(frozen.Streamed ? "read from the file tile by tile" : "mapped")} as stored " +
                $"(an F32 copy would be {frozen.F32Bytes / 1048576.0:F1} MiB)");
        var train = LoadData(s.Data, tokenizer, m.Config.Model.VocabSize);
        int bos = tokenizer.AddBos && tokenizer.BosId >= 0 ? tokenizer.BosId : -1;
        Console.Error.WriteLine($"{train.Length} training tokens from {s.Data}; {(s.Full ? $"full fine-tuning of {m.Parameters.Count:N0} parameters" : "LoRA")}");
        LoraLayers? lora = null;
        if (!s.Full)
        {
            lora = new LoraLayers(m.Config, s.Batch, s.Ctx, new LoraOptions { Rank = s.Rank, Alpha = s.Alpha, Targets = targets });
            lora.Initialize(s.Seed);
            Console.Error.WriteLine($"LoRA r={s.Rank} alpha={s.Alpha} on {s.Targets}: {lora.Count:N0} trainable parameters");
        }
        using var pool = new WorkerPool(s.Threads ?? Environment.ProcessorCount);
        var tuner = new FineTuner(m, lora, train, new FineTuneOptions
        {
            Steps = s.Steps,
            MaxLearningRate = s.Lr,
            MinLearningRate = s.Lr / 10,
            WarmupSteps = Math.Min(20, s.Steps / 10),
            Seed = s.Seed,
            Bos = bos,
            Adam = s.Full ? new AdamWOptions() : new AdamWOptions { WeightDecay = 0f },
        }, pool);
        // Loading leaves garbage (the file's metadata parsed, the data tokenized): one aggressive collection returns it
        // to the OS before the first step touches the activations, so it adds nothing to the peak (18 MB less at T = 32).
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < s.Steps; i++)
        {
            ct.ThrowIfCancellationRequested();
            var st = tuner.Step();
            Console.Error.Write($"\rstep {st.Step + 1}/{s.Steps}  loss {st.Loss:F4}  lr {st.LearningRate:E2}  |g| {st.GradNorm:F2}  {clock.Elapsed.TotalSeconds:F0}s   ");
        }
        Console.Error.WriteLine();
        ct.ThrowIfCancellationRequested();
        Directory.CreateDirectory(s.Out);
        if (lora is null) SaveFull(m, s.Base, Path.Combine(s.Out, "model.gguf"));
        else SaveAdapter(lora.ToAdapter(), m.Config.Model, s.Base, s.Out);
        return 0;
    }

    /// <summary>The training text as tokens: the base's own tokenizer, or bytes (ByteDataset's numbering)
    /// when the base has ByteDataset's byte vocabulary. The one place data is read, so other formats
    /// (JSONL, chat with loss masks) replace this method only.</summary>
    static TokenSequence LoadData(string path, Tokenizer tokenizer, int vocab)
    {
        string text = Commands.ReadUtf8(path);
        int[] tokens;
        if (vocab == ByteDataset.VocabSize && tokenizer.VocabSize == vocab && tokenizer.TokenText(ByteDataset.FirstByte) == "<0x00>")
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            tokens = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) tokens[i] = ByteDataset.FirstByte + bytes[i];
        }
        else tokens = tokenizer.Encode(text, addBos: false, parseSpecial: false);
        if (tokens.Length < 2) throw new ArgumentException($"{path}: {tokens.Length} tokens are too few to train on");
        return new TokenSequence(tokens);
    }

    static void SaveAdapter(LoraAdapter adapter, ModelConfig c, string basePath, string dir)
    {
        string gguf = Path.Combine(dir, "adapter.gguf");
        LoraGgufWriter.Write(adapter, gguf);
        LoraPeftWriter.Write(adapter, dir, c.HeadCount, c.HeadCountKv, Path.GetFileNameWithoutExtension(basePath));
        Console.Out.WriteLine(gguf);
        Console.Out.WriteLine(Path.Combine(dir, LoraPeftWriter.WeightsFile));
        Console.Out.WriteLine(Path.Combine(dir, LoraPeftWriter.ConfigFile));
    }

    /// <summary>Writes the fine-tuned model as F32 GGUF with the base's tokenizer keys.</summary>
    static void SaveFull(Transformer m, string basePath, string path)
    {
        if (!GgufFile.IsGguf(basePath)) throw new NotSupportedException($"{basePath}: --full writes GGUF and needs a GGUF base for its tokenizer");
        using var g = GgufFile.Open(basePath);
        TransformerGguf.Save(m, path, w =>
        {
            foreach (var kv in g.MetadataList)
                if (kv.Key.StartsWith("tokenizer.", StringComparison.Ordinal)) w.Set(kv.Key, kv.Value);
        }, (g.GetString("general.name") ?? "edgelm") + "-finetuned");
        Console.Out.WriteLine(path);
    }
}
