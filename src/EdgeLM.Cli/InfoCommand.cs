// edgelm info MODEL [--json]: architecture, parameter count, tensor types and sizes, context length
// and metadata (long arrays summarised).
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tensors;

namespace EdgeLM.Cli;

public static class InfoCommand
{
    public static Command Create()
    {
        var model = Commands.ModelArgument();
        var json = new Option<bool>("--json") { Description = "print JSON" };
        var command = new Command("info", "Show a model's architecture, size, tensor types and metadata") { model, json };
        command.SetAction(r => Commands.Guard(() => Run(r.GetValue(model)!, r.GetValue(json))));
        return command;
    }

    static int Run(string path, bool json)
    {
        using var dec = DecoderModel.Load(ModelSources.Open(path));
        var source = dec.Source;
        var c = dec.Config;
        long parameters = source.Tensors.Sum(t => t.ElementCount);
        long bytes = source.Tensors.Sum(t => t.ByteSize);
        var byType = source.Tensors.GroupBy(t => t.Type).OrderBy(g => g.Key)
            .Select(g => (Type: GgmlTypes.Info(g.Key).Name, Count: g.Count(), Bytes: g.Sum(t => t.ByteSize), Params: g.Sum(t => t.ElementCount)))
            .ToList();
        if (json)
        {
            var o = new JsonObject
            {
                ["path"] = path,
                ["architecture"] = c.Architecture,
                ["parameters"] = parameters,
                ["bytes"] = bytes,
                ["context_length"] = c.ContextLength,
                ["vocab_size"] = c.VocabSize,
                ["embedding_length"] = c.EmbeddingLength,
                ["block_count"] = c.BlockCount,
                ["head_count"] = c.HeadCount,
                ["head_count_kv"] = c.HeadCountKv,
                ["head_dim"] = c.HeadDim,
                ["feed_forward_length"] = c.FeedForwardLength,
                ["rope_freq_base"] = c.RopeFreqBase,
                ["tied_output"] = dec.Weights.TiedOutput,
                ["tensor_types"] = new JsonObject(byType.Select(t => KeyValuePair.Create(t.Type,
                    (JsonNode?)new JsonObject { ["tensors"] = t.Count, ["parameters"] = t.Params, ["bytes"] = t.Bytes }))),
                ["tensors"] = new JsonArray(source.Tensors.Select(t => (JsonNode?)new JsonObject
                {
                    ["name"] = t.Name,
                    ["type"] = GgmlTypes.Info(t.Type).Name,
                    ["shape"] = new JsonArray(t.Dimensions.Select(d => (JsonNode?)d).ToArray()),
                    ["bytes"] = t.ByteSize,
                }).ToArray()),
                ["metadata"] = new JsonObject(source.Metadata.Select(kv => KeyValuePair.Create(kv.Key, MetadataJson(kv.Value)))),
            };
            Console.Out.WriteLine(o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var w = Console.Out;
        w.WriteLine($"model:        {path}");
        w.WriteLine($"architecture: {c.Architecture}");
        w.WriteLine($"parameters:   {parameters:N0} ({Human(bytes)})");
        w.WriteLine($"context:      {c.ContextLength}");
        w.WriteLine($"shape:        {c.BlockCount} layers, n_embd {c.EmbeddingLength}, {c.HeadCount} heads ({c.HeadCountKv} kv, head dim {c.HeadDim}), ffn {c.FeedForwardLength}, vocab {c.VocabSize}{(dec.Weights.TiedOutput ? ", tied output" : "")}");
        w.WriteLine($"rope:         base {c.RopeFreqBase}, {c.RopeDimensions} dims, {(c.RopeNeox ? "neox" : "normal")}");
        w.WriteLine("tensor types:");
        foreach (var t in byType)
            w.WriteLine($"  {t.Type,-5} {t.Count,5} tensors {t.Params,15:N0} params {Human(t.Bytes),10}");
        w.WriteLine("metadata:");
        foreach (var (key, value) in source.Metadata)
            w.WriteLine($"  {key} = {Summary(value)}");
        return 0;
    }

    static string Summary(GgufValue v)
    {
        string s = v.ToString();
        s = s.Replace("\n", "\\n", StringComparison.Ordinal);
        return s.Length > 120 ? s[..117] + "..." : s;
    }

    static JsonNode? MetadataJson(GgufValue v) => v.Value switch
    {
        Array a when a.Length > 64 => JsonValue.Create($"[{v.ElementType} x {a.Length}]"),
        Array a => new JsonArray(a.Cast<object?>().Select(e => e is string s ? (JsonNode?)JsonValue.Create(s)
            : JsonValue.Create(Convert.ToDouble(e, System.Globalization.CultureInfo.InvariantCulture))).ToArray()),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        float f => JsonValue.Create(f),
        double d => JsonValue.Create(d),
        _ => JsonValue.Create(v.AsInt64()),
    };

    public static string Human(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };
}
