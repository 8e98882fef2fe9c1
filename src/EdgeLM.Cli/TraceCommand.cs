// edgelm trace MODEL -p PROMPT [--json] [--compare OTHER]: for each layer, the hidden state's RMS and
// largest value at the last prompt token, and the five tokens the output head would predict from it
// (logit lens). With --compare, the same prompt through a second model (say, a quantized copy) and
// the first layer where the two hidden states part by more than --tolerance (relative RMS difference).
// --lora applies adapters to MODEL only, so `trace BASE --lora A --compare BASE` shows where an adapter acts.
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeLM.Inference;
using EdgeLM.Models;

namespace EdgeLM.Cli;

public static class TraceCommand
{
    sealed class Recorder : ILayerObserver
    {
        public List<float[]> Layers { get; } = [];
        public void AfterLayer(int layer, ReadOnlySpan<float> x, int T) => Layers.Add(x.ToArray());
    }

    sealed record LayerTrace(int Layer, double Rms, float MaxAbs, int MaxIndex, (int Id, float Logit)[] Top);

    public static Command Create()
    {
        var model = Commands.ModelArgument();
        var prompt = new Option<string>("--prompt", "-p") { Description = "the prompt to trace", Required = true };
        var json = new Option<bool>("--json") { Description = "print JSON" };
        var compare = new Option<string?>("--compare") { Description = "a second model to compare layer by layer" };
        var tolerance = new Option<double>("--tolerance") { Description = "relative RMS difference at which two models are said to part", DefaultValueFactory = _ => 0.05 };
        var top = new Option<int>("--top") { Description = "tokens shown per layer", DefaultValueFactory = _ => 5 };
        var threads = new Option<int?>("--threads", "-t") { Description = "worker threads" };
        var lora = new LoraFlag();
        lora.Option.Description = "apply a LoRA adapter to MODEL (not to --compare): ADAPTER[:SCALE], repeatable";
        var command = new Command("trace", "Show what a model computes layer by layer (logit lens), or where two models part") { model, prompt, json, compare, tolerance, top, threads };
        lora.AddTo(command);
        command.SetAction(r => Commands.Guard(() => Run(r.GetValue(model)!, r.GetValue(prompt)!, r.GetValue(json), r.GetValue(compare),
            r.GetValue(tolerance), r.GetValue(top), r.GetValue(threads), lora.Read(r))));
        return command;
    }

    static (List<float[]> Hidden, List<LayerTrace> Trace) Trace(LanguageModel m, int[] ids, int top, int? threads)
    {
        using var session = m.CreateSession(new SessionOptions { ContextLength = Math.Max(ids.Length, 1), BatchSize = Math.Max(ids.Length, 1), Threads = threads });
        var rec = new Recorder();
        m.Decoder.Forward(session.State, ids, default, rec);
        int C = m.Config.EmbeddingLength, T = ids.Length;
        var logits = new float[m.Config.VocabSize];
        var traces = new List<LayerTrace>();
        for (int l = 0; l < rec.Layers.Count; l++)
        {
            var last = rec.Layers[l].AsSpan((T - 1) * C, C);
            double sum = 0;
            int maxIdx = 0;
            for (int i = 0; i < C; i++)
            {
                sum += (double)last[i] * last[i];
                if (Math.Abs(last[i]) > Math.Abs(last[maxIdx])) maxIdx = i;
            }
            m.Decoder.LogitLens(session.State, last, logits);
            var best = logits.Select((v, i) => (Id: i, Logit: v)).OrderByDescending(p => p.Logit).Take(top).ToArray();
            traces.Add(new LayerTrace(l, Math.Sqrt(sum / C), last[maxIdx], maxIdx, best));
        }
        return (rec.Layers, traces);
    }

    static int Run(string path, string prompt, bool json, string? comparePath, double tolerance, int top, int? threads,
        EdgeLM.Models.Lora.LoraRequest[] adapters)
    {
        using var model = LanguageModel.Load(path, new LoadOptions { Adapters = adapters });
        var tok = model.Tokenizer;
        var ids = tok.Encode(prompt, addBos: tok.AddBos && tok.BosId >= 0, parseSpecial: true);
        if (ids.Length == 0) throw new ArgumentException("the prompt is empty after tokenization");
        if (ids.Length > model.Config.ContextLength)
            throw new ArgumentException($"the prompt is {ids.Length} tokens, longer than the model's context of {model.Config.ContextLength}");
        var (hidden, trace) = Trace(model, ids, top, threads);

        List<double>? diffs = null;
        int? parted = null;
        if (comparePath is not null)
        {
            using var other = LanguageModel.Load(comparePath);
            if (other.Config.EmbeddingLength != model.Config.EmbeddingLength || other.Config.BlockCount != model.Config.BlockCount)
                throw new ArgumentException($"{comparePath} has a different shape ({other.Config.BlockCount} layers × {other.Config.EmbeddingLength}) from {path} ({model.Config.BlockCount} × {model.Config.EmbeddingLength})");
            var (otherHidden, _) = Trace(other, ids, top, threads);
            diffs = hidden.Zip(otherHidden, RelativeDifference).ToList();
            int first = diffs.FindIndex(d => d > tolerance);
            parted = first >= 0 ? first : null;
        }

        string Text(int id) => tok.TokenText(id);
        if (json)
        {
            var o = new JsonObject
            {
                ["model"] = path,
                ["lora"] = new JsonArray(adapters.Select(a => (JsonNode?)new JsonObject { ["path"] = a.Path, ["scale"] = a.Scale }).ToArray()),
                ["tokens"] = new JsonArray(ids.Select(i => (JsonNode?)i).ToArray()),
                ["layers"] = new JsonArray(trace.Select(t => (JsonNode?)new JsonObject
                {
                    ["layer"] = t.Layer,
                    ["rms"] = t.Rms,
                    ["max_abs"] = Math.Abs(t.MaxAbs),
                    ["max_index"] = t.MaxIndex,
                    ["top"] = new JsonArray(t.Top.Select(p => (JsonNode?)new JsonObject { ["id"] = p.Id, ["text"] = Text(p.Id), ["logit"] = p.Logit }).ToArray()),
                    ["rel_diff"] = diffs is null ? null : diffs[t.Layer],
                }).ToArray()),
            };
            if (comparePath is not null)
            {
                o["compare"] = comparePath;
                o["tolerance"] = tolerance;
                o["first_parted_layer"] = parted;
            }
            Console.Out.WriteLine(o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        Console.Out.WriteLine($"{ids.Length} prompt tokens; last token {ids[^1]} '{Text(ids[^1])}'");
        foreach (var t in trace)
        {
            string lens = string.Join("  ", t.Top.Select(p => $"{Quote(Text(p.Id))}:{p.Logit:F2}"));
            string diff = diffs is null ? "" : $"  diff {diffs[t.Layer]:P2}";
            Console.Out.WriteLine($"layer {t.Layer,3}  rms {t.Rms,9:G4}  max {t.MaxAbs,10:G4} @{t.MaxIndex,-5}{diff}  {lens}");
        }
        if (comparePath is not null)
            Console.Out.WriteLine(parted is int p ? $"the models part at layer {p} (relative difference {diffs![p]:P2} > {tolerance:P2})"
                : $"the models agree within {tolerance:P2} at every layer");
        return 0;
    }

    static double RelativeDifference(float[] a, float[] b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = a[i] - b[i];
            num += d * d;
            den += (double)a[i] * a[i];
        }
        return den == 0 ? (num == 0 ? 0 : double.PositiveInfinity) : Math.Sqrt(num / den);
    }

    static string Quote(string s) => JsonSerializer.Serialize(s);
}
