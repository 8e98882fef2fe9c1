// The adapter files: the GGUF adapter loads in llama.cpp and turns the base's logits into the merged
// model's; the GGUF and PEFT files hold what the adapter holds, under the names, shapes and keys
// llama.cpp and PEFT expect (the PEFT B of q/k with rows back in Hugging Face order).
using System.Text.Json;
using EdgeLM.Formats.Gguf;
using EdgeLM.Formats.HuggingFace;
using EdgeLM.Formats.Safetensors;
using EdgeLM.Models.Lora;
using EdgeLM.Tests.Support;
using EdgeLM.Training;
using EdgeLM.Training.Lora;

namespace EdgeLM.Tests.Training.Lora;

[Collection(PoemsCollection.Name)]
public class LoraExportTests(PoemsFixture f)
{
    /// <summary>llama.cpp runs the F32 base with F32 keys and values and adds scale·B(Ax) as we do: only the
    /// summation order differs, as in TrainingLoopTests' llama.cpp comparison.</summary>
    const float LlamaCppRelativeTolerance = 1e-4f;

    [Fact]
    public void The_gguf_adapter_makes_llama_cpp_give_the_merged_models_logits()
    {
        string adapterPath = f.File("poems-lora.gguf");
        LoraGgufWriter.Write(f.Adapter, adapterPath);
        var inputs = new int[PoemsFixture.T];
        var targets = new int[PoemsFixture.T];
        ByteDataset.Window(f.Poems.Validation, 700, inputs, targets);
        var merged = TransformerGguf.Load(f.BasePath, 1, PoemsFixture.T);
        LoraMerge.Apply(merged.Parameters, f.Adapter);
        merged.Forward(inputs, default, default);
        int V = ByteDataset.VocabSize;
        var expected = Enumerable.Range(0, PoemsFixture.T).Select(t => merged.Logits.Slice(t * V, V).ToArray()).ToArray();
        var withAdapter = LlamaCppOracle.Logits(f.BasePath, inputs, context: 128, loraPath: adapterPath);
        var without = LlamaCppOracle.Logits(f.BasePath, inputs, context: 128);
        var (max, pos, idx, scale) = Models.EngineHarness.Compare(expected, withAdapter);
        var (effect, _, _, _) = Models.EngineHarness.Compare(expected, without);
        Console.WriteLine($"llama.cpp + adapter vs merged: max |Δ| {max:E2} at position {pos}, logit {idx} (scale {scale:F1}); without the adapter {effect:F2}");
        Assert.True(max <= LlamaCppRelativeTolerance * scale, $"llama.cpp with the adapter: max |Δlogit| {max}");
        Assert.True(effect > 100 * LlamaCppRelativeTolerance * scale, $"the adapter moved llama.cpp's logits by only {effect}");
    }

    [Fact]
    public void The_gguf_adapter_has_llama_cpps_keys_names_and_shapes()
    {
        string path = f.File("keys-lora.gguf");
        LoraGgufWriter.Write(f.Adapter, path);
        using var g = GgufFile.Open(path);
        Assert.Equal("adapter", g.GetString("general.type"));
        Assert.Equal("lora", g.GetString("adapter.type"));
        Assert.Equal("llama", g.GetString("general.architecture"));
        Assert.Equal(f.Adapter.Alpha, (float)g.GetNumber("adapter.lora.alpha")!.Value);
        Assert.Equal(2 * f.Adapter.Tensors.Count, g.Tensors.Count);
        var q = f.Adapter.Tensors.First(t => t.Target == "blk.1.attn_q.weight");
        var a = g.GetTensor("blk.1.attn_q.weight.lora_a");
        var b = g.GetTensor("blk.1.attn_q.weight.lora_b");
        Assert.Equal([q.In, q.Rank], a.Dimensions);
        Assert.Equal([q.Rank, q.Out], b.Dimensions);
        Assert.Equal(q.A, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(g.TensorData(a)).ToArray());
        Assert.Equal(q.B, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(g.TensorData(b)).ToArray());
    }

    [Fact]
    public void The_peft_folder_has_hugging_face_names_and_q_k_rows_in_hugging_face_order()
    {
        string dir = f.File("peft");
        var c = f.Model.Config.Model;
        LoraPeftWriter.Write(f.Adapter, dir, c.HeadCount, c.HeadCountKv, "tiny-shakespeare-bytes");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, LoraPeftWriter.ConfigFile)));
        var root = json.RootElement;
        Assert.Equal("LORA", root.GetProperty("peft_type").GetString());
        Assert.Equal("CAUSAL_LM", root.GetProperty("task_type").GetString());
        Assert.Equal(8, root.GetProperty("r").GetInt32());
        Assert.Equal(16, root.GetProperty("lora_alpha").GetSingle());
        Assert.Equal(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
        using var st = SafetensorsFile.Open(Path.Combine(dir, LoraPeftWriter.WeightsFile));
        Assert.Equal(2 * f.Adapter.Tensors.Count, st.Tensors.Count);
        foreach (var (target, hf, groups) in new[] { ("blk.0.attn_q.weight", "self_attn.q_proj", c.HeadCount),
            ("blk.1.attn_k.weight", "self_attn.k_proj", c.HeadCountKv), ("blk.1.ffn_down.weight", "mlp.down_proj", 0) })
        {
            var t = f.Adapter.Tensors.First(x => x.Target == target);
            int layer = target[4] - '0';
            var a = Floats(st, $"base_model.model.model.layers.{layer}.{hf}.lora_A.weight", [t.Rank, t.In]);
            var b = Floats(st, $"base_model.model.model.layers.{layer}.{hf}.lora_B.weight", [t.Out, t.Rank]);
            Assert.Equal(t.A, a);
            // Hugging Face row r of B is GGUF row GgufRowOf(r) for q and k (llama's permute), itself otherwise.
            for (int r = 0; r < t.Out; r++)
            {
                long from = groups == 0 ? r : HfFolderWriter.GgufRowOf(r, t.Out, groups);
                Assert.Equal(t.B.AsSpan((int)from * t.Rank, t.Rank).ToArray(), b.AsSpan(r * t.Rank, t.Rank).ToArray());
            }
        }
    }

    static float[] Floats(SafetensorsFile st, string name, long[] shape)
    {
        var t = st.Tensors.FirstOrDefault(x => x.Name == name) ?? throw new Xunit.Sdk.XunitException($"no tensor {name}");
        Assert.Equal(shape, t.Shape);
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(st.TensorData(t)).ToArray();
    }
}
