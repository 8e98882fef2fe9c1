// A llama2.c checkpoint (karpathy/llama2.c, run.c: read_checkpoint / memory_map_weights, the
// "legacy" version-0 export) as a model source. Layout: a header of 7 int32 (dim, hidden_dim,
// n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means a separate
// classifier follows), then F32 arrays in this order:
//   token_embedding_table (vocab, dim)        rms_att_weight (layer, dim)
//   wq (layer, n_heads*hs, dim)               wk, wv (layer, n_kv_heads*hs, dim)
//   wo (layer, dim, n_heads*hs)               rms_ffn_weight (layer, dim)
//   w1 (layer, hidden, dim)  w2 (layer, dim, hidden)  w3 (layer, hidden, dim)
//   rms_final_weight (dim)   freq_cis_real, freq_cis_imag (seq_len, hs/2; unused)   [wcls (vocab, dim)]
// (shapes as run.c's matmul reads them: rows = outputs). Each array is viewed in place under its
// GGUF name with one pointer per layer. llama2.c rotates interleaved pairs (x[2i], x[2i+1]), which is
// llama.cpp's normal RoPE mode, so QkRotateHalf is false. The header and the exact file size are
// checked when opened. This is not the newer versioned export (magic "ak42") nor quantized Q8_0 v2.
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tensors;

namespace EdgeLM.Formats.Llama2c;

/// <summary>The 7-int32 header. VocabSize is the absolute value; SharedClassifier is its sign.</summary>
public sealed record Llama2cConfig(int Dim, int HiddenDim, int NumLayers, int NumHeads, int NumKvHeads, int VocabSize, int SeqLen, bool SharedClassifier)
{
    public int HeadSize => Dim / NumHeads;
    public int KvDim => NumKvHeads * HeadSize;
}

public sealed unsafe class Llama2cModelSource : IModelSource
{
    public const int HeaderBytes = 7 * sizeof(int);

    // Caps far above any llama2.c model and low enough that the size arithmetic cannot overflow.
    const int MaxDim = 1 << 16, MaxLayers = 1 << 10, MaxVocab = 1 << 22, MaxSeqLen = 1 << 22;

    readonly MappedFile _file;

    Llama2cModelSource(MappedFile file, Llama2cConfig config)
    {
        _file = file;
        Config = config;
        Metadata = BuildMetadata(config);
        Tensors = BuildTensors(file.Pointer + HeaderBytes, config);
    }

    public static Llama2cModelSource Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            return new Llama2cModelSource(file, ReadHeader(file));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public string Path => _file.Path;
    public Llama2cConfig Config { get; }
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }
    public IReadOnlyList<TensorEntry> Tensors { get; }
    public bool QkRotateHalf => false;

    public void Dispose() => _file.Dispose();

    static Llama2cConfig ReadHeader(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < HeaderBytes)
            throw new InvalidModelFileException(path, $"file is {file.Length} bytes, too short for the 28-byte llama2.c header");
        var h = new ReadOnlySpan<int>(file.Pointer, 7);
        string header = string.Join(" ", h.ToArray());
        int vocab = h[5] == int.MinValue ? 0 : Math.Abs(h[5]);
        var c = new Llama2cConfig(h[0], h[1], h[2], h[3], h[4], vocab, h[6], h[5] > 0);
        void Check(bool ok, string what)
        {
            if (!ok) throw new InvalidModelFileException(path, $"llama2.c header [{header}]: {what}");
        }
        Check(c.Dim is > 0 and <= MaxDim, $"dim {c.Dim} is not in 1..{MaxDim}");
        Check(c.HiddenDim is > 0 and <= MaxDim * 8, $"hidden_dim {c.HiddenDim} is not in 1..{MaxDim * 8}");
        Check(c.NumLayers is > 0 and <= MaxLayers, $"n_layers {c.NumLayers} is not in 1..{MaxLayers}");
        Check(c.NumHeads > 0 && c.NumHeads <= c.Dim && c.Dim % c.NumHeads == 0, $"n_heads {c.NumHeads} does not divide dim {c.Dim}");
        Check(c.NumKvHeads > 0 && c.NumKvHeads <= c.NumHeads && c.NumHeads % c.NumKvHeads == 0,
            $"n_kv_heads {c.NumKvHeads} does not divide n_heads {c.NumHeads}");
        Check(c.HeadSize % 2 == 0, $"head size {c.HeadSize} is odd; RoPE needs pairs");
        Check(c.VocabSize is > 0 and <= MaxVocab, $"vocab_size {h[5]} is not in 1..{MaxVocab} (negative means unshared classifier)");
        Check(c.SeqLen is > 0 and <= MaxSeqLen, $"seq_len {c.SeqLen} is not in 1..{MaxSeqLen}");
        long expected = ExpectedFileSize(c);
        if (file.Length != expected)
        {
            long other = ExpectedFileSize(c with { SharedClassifier = !c.SharedClassifier });
            throw new InvalidModelFileException(path,
                $"file is {file.Length} bytes but header [{header}] implies {expected}"
                + (file.Length == other ? $" (the size fits {(c.SharedClassifier ? "a separate" : "a shared")} classifier: is vocab_size's sign wrong?)"
                    : file.Length < expected ? " (truncated?)" : " (trailing data?)"));
        }
        return c;
    }

    /// <summary>Bytes the header implies; the caps keep this far from overflow.</summary>
    public static long ExpectedFileSize(Llama2cConfig c)
    {
        long d = c.Dim, l = c.NumLayers, kv = c.KvDim, hd = c.HiddenDim, v = c.VocabSize;
        long floats = v * d                          // token_embedding_table
            + l * d                                  // rms_att_weight
            + l * d * d + 2 * l * d * kv + l * d * d // wq, wk, wv, wo
            + l * d                                  // rms_ffn_weight
            + 3 * l * d * hd                         // w1, w2, w3
            + d                                      // rms_final_weight
            + (long)c.SeqLen * c.HeadSize            // freq_cis_real + freq_cis_imag
            + (c.SharedClassifier ? 0 : v * d);      // wcls
        return HeaderBytes + floats * sizeof(float);
    }

    static List<TensorEntry> BuildTensors(byte* p, Llama2cConfig c)
    {
        int d = c.Dim, kv = c.KvDim, hd = c.HiddenDim, L = c.NumLayers;
        var t = new List<TensorEntry>(9 * L + 4);
        float* ptr = (float*)p;
        float* Take(long n) { float* at = ptr; ptr += n; return at; }
        void Add(string name, float* at, params long[] dims) =>
            t.Add(new TensorEntry(name, GgmlType.F32, dims, (nint)at, dims.Aggregate(4L, (a, x) => a * x)));
        void PerLayer(string name, long rows, long cols)
        {
            // (layer, rows, cols) in the file; GGUF dims are [cols, rows] (row length first).
            float* at = Take(L * rows * cols);
            for (int i = 0; i < L; i++)
            {
                if (cols == 1) Add($"blk.{i}.{name}", at + i * rows, rows);
                else Add($"blk.{i}.{name}", at + i * rows * cols, cols, rows);
            }
        }
        float* embed = Take((long)c.VocabSize * d);
        Add("token_embd.weight", embed, d, c.VocabSize);
        PerLayer("attn_norm.weight", d, 1);
        PerLayer("attn_q.weight", d, d);
        PerLayer("attn_k.weight", kv, d);
        PerLayer("attn_v.weight", kv, d);
        PerLayer("attn_output.weight", d, d);
        PerLayer("ffn_norm.weight", d, 1);
        PerLayer("ffn_gate.weight", hd, d);  // w1
        PerLayer("ffn_down.weight", d, hd);  // w2
        PerLayer("ffn_up.weight", hd, d);    // w3
        Add("output_norm.weight", Take(d), d);
        Take((long)c.SeqLen * c.HeadSize);   // freq_cis_real, freq_cis_imag: RoPE is recomputed
        if (!c.SharedClassifier) Add("output.weight", Take((long)c.VocabSize * d), d, c.VocabSize);
        return t;
    }

    static Dictionary<string, GgufValue> BuildMetadata(Llama2cConfig c) => new(StringComparer.Ordinal)
    {
        ["general.architecture"] = GgufValue.Of("llama"),
        ["llama.context_length"] = GgufValue.Of((uint)c.SeqLen),
        ["llama.embedding_length"] = GgufValue.Of((uint)c.Dim),
        ["llama.feed_forward_length"] = GgufValue.Of((uint)c.HiddenDim),
        ["llama.block_count"] = GgufValue.Of((uint)c.NumLayers),
        ["llama.attention.head_count"] = GgufValue.Of((uint)c.NumHeads),
        ["llama.attention.head_count_kv"] = GgufValue.Of((uint)c.NumKvHeads),
        ["llama.vocab_size"] = GgufValue.Of((uint)c.VocabSize),
        // run.c hard-codes both: rmsnorm's 1e-5f and RoPE's 10000.0f.
        ["llama.attention.layer_norm_rms_epsilon"] = GgufValue.Of(1e-5f),
        ["llama.rope.freq_base"] = GgufValue.Of(10000f),
        ["llama.rope.dimension_count"] = GgufValue.Of((uint)c.HeadSize),
    };
}
