// Hugging Face folders as model sources: config.json -> GGUF keys as convert_hf_to_gguf.py writes
// them, names and reversed shapes, Llama 3 rope_freqs against Meta's apply_scaling formula
// evaluated here in double precision, and refusals that name the tensor or key.
using System.Runtime.InteropServices;
using EdgeLM.Formats;
using EdgeLM.Formats.Safetensors;
using EdgeLM.Models;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Formats;

public class HfModelTests
{
    // A tiny llama: hidden 32, 4 heads of 8, 2 kv heads, ffn 24, 2 layers, vocab 40.
    internal const int Hidden = 32, Heads = 4, KvHeads = 2, HeadDim = 8, Ffn = 24, Layers = 2, Vocab = 40;

    internal const string LlamaConfig = """
    {
      "architectures": ["LlamaForCausalLM"], "model_type": "llama",
      "hidden_size": 32, "intermediate_size": 24, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 131072,
      "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "vocab_size": 40,
      "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": [2, 3],
      "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 8192, "rope_type": "llama3"},
      "torch_dtype": "float32"
    }
    """;

    /// <summary>HF name -> safetensors shape of every tensor of the tiny model.</summary>
    internal static List<(string Name, long[] Shape)> HfTensors(bool qkNorm = false, bool lmHead = true, bool bias = false)
    {
        var list = new List<(string, long[])> { ("model.embed_tokens.weight", [Vocab, Hidden]), ("model.norm.weight", [Hidden]) };
        if (lmHead) list.Add(("lm_head.weight", [Vocab, Hidden]));
        for (int i = 0; i < Layers; i++)
        {
            string p = $"model.layers.{i}.";
            list.Add((p + "input_layernorm.weight", [Hidden]));
            list.Add((p + "post_attention_layernorm.weight", [Hidden]));
            list.Add((p + "self_attn.q_proj.weight", [Heads * HeadDim, Hidden]));
            list.Add((p + "self_attn.k_proj.weight", [KvHeads * HeadDim, Hidden]));
            list.Add((p + "self_attn.v_proj.weight", [KvHeads * HeadDim, Hidden]));
            list.Add((p + "self_attn.o_proj.weight", [Hidden, Heads * HeadDim]));
            list.Add((p + "mlp.gate_proj.weight", [Ffn, Hidden]));
            list.Add((p + "mlp.up_proj.weight", [Ffn, Hidden]));
            list.Add((p + "mlp.down_proj.weight", [Hidden, Ffn]));
            if (qkNorm)
            {
                list.Add((p + "self_attn.q_norm.weight", [HeadDim]));
                list.Add((p + "self_attn.k_norm.weight", [HeadDim]));
            }
            if (bias)
            {
                list.Add((p + "self_attn.q_proj.bias", [Heads * HeadDim]));
                list.Add((p + "self_attn.k_proj.bias", [KvHeads * HeadDim]));
                list.Add((p + "self_attn.v_proj.bias", [KvHeads * HeadDim]));
            }
        }
        return list;
    }

    /// <summary>Writes a folder whose tensor k holds k*1000 + element index, so every view can be checked.</summary>
    internal static Dictionary<string, float[]> WriteFolder(string folder, string config, List<(string Name, long[] Shape)> tensors, long maxShard = long.MaxValue)
    {
        var data = new Dictionary<string, float[]>();
        var w = new SafetensorsWriter();
        int k = 0;
        foreach (var (name, shape) in tensors)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            float[] values = Enumerable.Range(0, (int)n).Select(i => k * 1000f + i).ToArray();
            data[name] = values;
            w.AddTensor(name, values, shape);
            k++;
        }
        w.WriteFolder(folder, maxShard);
        File.WriteAllText(Path.Combine(folder, "config.json"), config);
        return data;
    }

    internal static float[] Floats(TensorEntry t) => MemoryMarshal.Cast<byte, float>(t.Bytes).ToArray();

    [Fact]
    public void Llama_folder_maps_keys_names_and_shapes_like_the_converter()
    {
        using var dir = new TempDir();
        var data = WriteFolder(dir.Path, LlamaConfig, [.. HfTensors(), ("model.layers.0.self_attn.rotary_emb.inv_freq", [4])], maxShard: 4000);
        Assert.True(File.Exists(dir.File(SafetensorsCheckpoint.IndexFileName)));
        using var m = SafetensorsModelSource.Open(dir.Path);
        var md = m.Metadata;
        Assert.Equal("llama", md["general.architecture"].Value);
        Assert.Equal(2u, md["llama.block_count"].Value);
        Assert.Equal(131072u, md["llama.context_length"].Value);
        Assert.Equal(32u, md["llama.embedding_length"].Value);
        Assert.Equal(24u, md["llama.feed_forward_length"].Value);
        Assert.Equal(4u, md["llama.attention.head_count"].Value);
        Assert.Equal(2u, md["llama.attention.head_count_kv"].Value);
        Assert.Equal(1e-5f, md["llama.attention.layer_norm_rms_epsilon"].Value);
        Assert.Equal(500000f, md["llama.rope.freq_base"].Value);
        Assert.Equal(8u, md["llama.rope.dimension_count"].Value);
        Assert.Equal(40u, md["llama.vocab_size"].Value);
        Assert.Equal(1u, md["tokenizer.ggml.bos_token_id"].Value);
        Assert.Equal(2u, md["tokenizer.ggml.eos_token_id"].Value);
        Assert.False(md.ContainsKey("llama.attention.key_length")); // no head_dim in config.json
        Assert.True(m.QkRotateHalf);

        var byName = m.Tensors.ToDictionary(t => t.Name);
        Assert.DoesNotContain(byName.Keys, n => n.Contains("inv_freq"));
        (string Gguf, string Hf)[] pairs =
        [
            ("token_embd.weight", "model.embed_tokens.weight"), ("output.weight", "lm_head.weight"), ("output_norm.weight", "model.norm.weight"),
            ("blk.1.attn_q.weight", "model.layers.1.self_attn.q_proj.weight"), ("blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight"),
            ("blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight"), ("blk.0.attn_output.weight", "model.layers.0.self_attn.o_proj.weight"),
            ("blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj.weight"), ("blk.0.ffn_up.weight", "model.layers.0.mlp.up_proj.weight"),
            ("blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj.weight"), ("blk.1.attn_norm.weight", "model.layers.1.input_layernorm.weight"),
            ("blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"),
        ];
        foreach (var (gguf, hf) in pairs)
            Assert.Equal(data[hf], Floats(byName[gguf]));
        Assert.Equal([Hidden, Vocab], byName["token_embd.weight"].Dimensions);
        Assert.Equal([Hidden, KvHeads * HeadDim], byName["blk.1.attn_k.weight"].Dimensions);
        Assert.Equal([Ffn, Hidden], byName["blk.1.ffn_down.weight"].Dimensions);
        Assert.Equal(2 + 1 + 1 + 9 * Layers, byName.Count); // + rope_freqs.weight
    }

    [Fact]
    public void Llama3_rope_freqs_match_the_scaling_formula()
    {
        using var dir = new TempDir();
        WriteFolder(dir.Path, LlamaConfig, HfTensors());
        using var m = SafetensorsModelSource.Open(dir.Path);
        var t = m.Tensors.Single(x => x.Name == "rope_freqs.weight");
        Assert.Equal([HeadDim / 2], t.Dimensions);
        float[] got = Floats(t);
        // Meta's llama3 apply_scaling, in double: factor 8, low 1, high 4, original context 8192, theta 5e5.
        double factor = 8, low = 1, high = 4, old = 8192;
        var want = new double[HeadDim / 2];
        for (int i = 0; i < want.Length; i++)
        {
            double wavelen = 2 * Math.PI * Math.Pow(500000, 2.0 * i / HeadDim);
            want[i] = wavelen < old / high ? 1 : wavelen > old / low ? factor
                : 1 / ((1 - (old / wavelen - low) / (high - low)) / factor + (old / wavelen - low) / (high - low));
        }
        // This head size reaches all three branches: unscaled, smoothed, and fully scaled.
        Assert.Equal(1.0, want[0]);
        Assert.InRange(want[2], 1.01, 7.99);
        Assert.Equal(8.0, want[3]);
        // The converter works in float32; a relative 1e-5 covers float32 rounding of pow and the divisions.
        const double Float32Rounding = 1e-5;
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(got[i] - want[i]) <= Float32Rounding * want[i], $"rope_freqs[{i}] = {got[i]}, expected {want[i]}");
    }

    [Fact]
    public void Qwen3_folder_has_head_dim_qk_norms_and_tied_embeddings()
    {
        using var dir = new TempDir();
        string config = """
        {"architectures":["Qwen3ForCausalLM"],"hidden_size":32,"intermediate_size":24,"num_hidden_layers":2,
         "num_attention_heads":4,"num_key_value_heads":2,"head_dim":8,"max_position_embeddings":40960,
         "rms_norm_eps":1e-06,"rope_theta":1000000,"vocab_size":40,"tie_word_embeddings":true,
         "bos_token_id":151643,"eos_token_id":151645,"rope_scaling":null}
        """;
        // A tied model saved with lm_head anyway: it is not an output tensor.
        var data = WriteFolder(dir.Path, config, HfTensors(qkNorm: true, lmHead: true));
        using var m = SafetensorsModelSource.Open(dir.Path);
        Assert.Equal("qwen3", m.Metadata["general.architecture"].Value);
        Assert.Equal(8u, m.Metadata["qwen3.attention.key_length"].Value);
        Assert.Equal(8u, m.Metadata["qwen3.attention.value_length"].Value);
        Assert.Equal(1e6f, m.Metadata["qwen3.rope.freq_base"].Value);
        Assert.Equal(1e-6f, m.Metadata["qwen3.attention.layer_norm_rms_epsilon"].Value);
        Assert.False(m.Metadata.ContainsKey("qwen3.rope.dimension_count"));
        Assert.False(m.QkRotateHalf);
        Assert.DoesNotContain(m.Tensors, t => t.Name == "output.weight");
        Assert.Equal(data["model.layers.1.self_attn.k_norm.weight"], Floats(m.Tensors.Single(t => t.Name == "blk.1.attn_k_norm.weight")));
        Assert.Equal(data["model.layers.0.self_attn.q_norm.weight"], Floats(m.Tensors.Single(t => t.Name == "blk.0.attn_q_norm.weight")));
    }

    [Fact]
    public void Qwen2_biases_map_and_mistral_is_llama()
    {
        using var dir = new TempDir();
        string config = """{"architectures":["Qwen2ForCausalLM"],"hidden_size":32,"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":40,"tie_word_embeddings":true}""";
        var data = WriteFolder(dir.Path, config, HfTensors(lmHead: false, bias: true));
        using (var m = SafetensorsModelSource.Open(dir.Path))
        {
            Assert.Equal("qwen2", m.Metadata["general.architecture"].Value);
            Assert.Equal(data["model.layers.1.self_attn.k_proj.bias"], Floats(m.Tensors.Single(t => t.Name == "blk.1.attn_k.bias")));
        }
        File.WriteAllText(dir.File("config.json"), config.Replace("Qwen2ForCausalLM", "MistralForCausalLM"));
        using var mistral = SafetensorsModelSource.Open(dir.Path);
        Assert.Equal("llama", mistral.Metadata["general.architecture"].Value);
    }

    [Theory]
    [InlineData("\"LlamaForCausalLM\"", "\"GPT2LMHeadModel\"", "architecture 'GPT2LMHeadModel' is not supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)")]
    [InlineData("\"num_attention_heads\": 4,", "", "config key 'num_attention_heads' is missing")]
    [InlineData("\"num_attention_heads\": 4,", "\"num_attention_heads\": 3,", "is not a multiple of num_key_value_heads")]
    [InlineData("\"hidden_size\": 32,", "\"hidden_size\": \"32\",", "config key 'hidden_size' is \"32\"")]
    [InlineData("\"rope_type\": \"llama3\"", "\"rope_type\": \"dynamic\"", "rope_scaling type 'dynamic' is not supported for llama")]
    [InlineData("}", "", "not valid JSON")]
    public void Bad_configs_name_the_key(string from, string to, string reason)
    {
        using var dir = new TempDir();
        WriteFolder(dir.Path, LlamaConfig.Replace(from, to), HfTensors());
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsModelSource.Open(dir.Path));
        Assert.Contains("config.json", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Unknown_missing_and_misshapen_tensors_are_named()
    {
        using var dir = new TempDir();
        WriteFolder(dir.Path, LlamaConfig, [.. HfTensors(), ("model.layers.0.mlp.experts.0.weight", [4])]);
        Assert.Contains("tensor 'model.layers.0.mlp.experts.0.weight' is not part of", Assert.Throws<InvalidModelFileException>(() => SafetensorsModelSource.Open(dir.Path)).Message);

        using var dir2 = new TempDir();
        WriteFolder(dir2.Path, LlamaConfig, [.. HfTensors().Where(t => t.Name != "model.layers.1.mlp.up_proj.weight")]);
        Assert.Contains("tensor 'blk.1.ffn_up.weight' is missing", Assert.Throws<InvalidModelFileException>(() => SafetensorsModelSource.Open(dir2.Path)).Message);

        using var dir3 = new TempDir();
        WriteFolder(dir3.Path, LlamaConfig, [.. HfTensors().Select(t => t.Name == "model.layers.0.self_attn.k_proj.weight" ? (t.Name, new long[] { Hidden, Hidden }) : t)]);
        Assert.Contains("tensor 'blk.0.attn_k.weight' has ggml shape [32, 32], config.json implies [32, 16]",
            Assert.Throws<InvalidModelFileException>(() => SafetensorsModelSource.Open(dir3.Path)).Message);

        using var dir4 = new TempDir();
        WriteFolder(dir4.Path, LlamaConfig, [.. HfTensors(), ("model.layers.2.mlp.up_proj.weight", [Ffn, Hidden])]);
        Assert.Contains("not below num_hidden_layers 2", Assert.Throws<InvalidModelFileException>(() => SafetensorsModelSource.Open(dir4.Path)).Message);
    }
}
