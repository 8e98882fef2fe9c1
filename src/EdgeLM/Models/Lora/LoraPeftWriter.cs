// Writes a LoRA adapter as a Hugging Face PEFT adapter folder (peft's save_pretrained):
// adapter_config.json (peft_type LORA, r, lora_alpha, target_modules, task_type CAUSAL_LM,
// base_model_name_or_path; rank_pattern / alpha_pattern when ranks differ) and
// adapter_model.safetensors with tensors base_model.model.<HF module>.lora_A.weight (rank, in) and
// .lora_B.weight (out, rank). GGUF llama stores Q and K rows permuted relative to Hugging Face
// (convert_hf_to_gguf.py's permute for interleaved RoPE), so B's rows of q_proj and k_proj are put
// back in Hugging Face order, as HfFolderWriter does for the weights; A is unaffected (it acts on the
// input side). qwen2 / qwen3 are not permuted. Files are written atomically, the config last.
// Not a reader.
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeLM.Formats;
using EdgeLM.Formats.HuggingFace;
using EdgeLM.Formats.Safetensors;

namespace EdgeLM.Models.Lora;

public static class LoraPeftWriter
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    /// <summary>Writes <see cref="WeightsFile"/> and <see cref="ConfigFile"/> into <paramref name="dir"/>.
    /// <paramref name="headCount"/> and <paramref name="headCountKv"/> are the base's (for the llama Q/K
    /// permutation); <paramref name="baseModel"/> goes to base_model_name_or_path.</summary>
    public static void Write(LoraAdapter adapter, string dir, int headCount, int headCountKv, string baseModel = "",
        CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        if (adapter.Tensors.Count == 0) throw new ArgumentException("the adapter has no tensors", nameof(adapter));
        Directory.CreateDirectory(dir);
        bool permute = adapter.Architecture == "llama";
        var writer = new SafetensorsWriter().SetMetadata("format", "pt");
        var modules = new List<string>();
        var ranks = new List<(string Module, int Rank)>();
        foreach (var t in adapter.Tensors)
        {
            string hf = HfTensorNames.ToHf(t.Target, int.MaxValue) is { } n && n.EndsWith(".weight", StringComparison.Ordinal)
                ? n[..^".weight".Length]
                : throw new ArgumentException($"LoRA tensor '{t.Target}' has no Hugging Face module name");
            string module = hf[(hf.LastIndexOf('.') + 1)..];
            if (!modules.Contains(module)) modules.Add(module);
            ranks.Add((hf, t.Rank));
            int groups = !permute ? 0 : module == "q_proj" ? headCount : module == "k_proj" ? headCountKv : 0;
            writer.AddTensor($"base_model.model.{hf}.lora_A.weight", t.A, t.Rank, t.In);
            writer.AddTensor($"base_model.model.{hf}.lora_B.weight", groups == 0 ? t.B : HfRowOrder(t, groups), t.Out, t.Rank);
        }
        writer.Write(Path.Combine(dir, WeightsFile), cancel);
        string json = Config(adapter, modules, ranks, baseModel).ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.Write(Path.Combine(dir, ConfigFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(json)));
    }

    /// <summary>B with its rows in Hugging Face order: HF row r is GGUF row HfFolderWriter.GgufRowOf(r).</summary>
    static float[] HfRowOrder(LoraTensor t, int groups)
    {
        if (t.Out % (2 * groups) != 0)
            throw new ArgumentException($"LoRA tensor '{t.Target}': {t.Out} rows do not split into {groups} heads of pairs");
        var result = new float[t.B.Length];
        for (int r = 0; r < t.Out; r++)
            t.B.AsSpan((int)HfFolderWriter.GgufRowOf(r, t.Out, groups) * t.Rank, t.Rank).CopyTo(result.AsSpan(r * t.Rank, t.Rank));
        return result;
    }

    static JsonObject Config(LoraAdapter adapter, List<string> modules, List<(string Module, int Rank)> ranks, string baseModel)
    {
        // The most common rank is r; others go to rank_pattern. Alpha 0 means scale 1 in llama.cpp,
        // which PEFT expresses as lora_alpha = r (per module through alpha_pattern).
        int r = ranks.GroupBy(x => x.Rank).OrderByDescending(g => g.Count()).First().Key;
        var rankPattern = new JsonObject();
        var alphaPattern = new JsonObject();
        foreach (var (module, rank) in ranks)
        {
            if (rank == r) continue;
            rankPattern[module] = rank;
            if (adapter.Alpha == 0) alphaPattern[module] = rank;
        }
        var targets = new JsonArray();
        foreach (var m in modules) targets.Add(m);
        return new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModel,
            ["r"] = r,
            ["lora_alpha"] = adapter.Alpha == 0 ? r : adapter.Alpha,
            ["lora_dropout"] = 0.0,
            ["target_modules"] = targets,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["modules_to_save"] = null,
            ["rank_pattern"] = rankPattern,
            ["alpha_pattern"] = alphaPattern,
            ["revision"] = null,
        };
    }
}
