// Writes random-weight models of real shapes in GGUF (llama.cpp loads them): for tests, benchmarks
// and demonstrations where no trained weights are at hand. Weights are Gaussian with fan-in
// scaling; the output head is scaled up so the next-token distribution is peaked. Tensors are
// generated while the file is written, one at a time, so a billion-parameter model never sits in
// memory whole. The vocabulary is SentencePiece-style: unk, BOS, EOS, 256 byte tokens, then words.
using System.Runtime.InteropServices;
using EdgeLM.Formats.Gguf;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Models;

/// <summary>The shape of a random model. HeadDim × Heads need not equal Dim (qwen3).</summary>
public sealed record RandomModelShape(
    string Arch, int Dim = 64, int Layers = 2, int Heads = 4, int KvHeads = 2, int HeadDim = 16,
    int Ffn = 128, int Vocab = 320, int Context = 256, bool Tied = false, float RopeBase = 10000f)
{
    /// <summary>Qwen2.5-0.5B: 24 layers, hidden 896, 14 heads, 2 KV heads, FFN 4864, vocab 151936, tied.</summary>
    public static RandomModelShape Qwen25_05B => new("qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, Tied: true, RopeBase: 1000000f);
    /// <summary>Llama-3.2-1B: 16 layers, hidden 2048, 32 heads, 8 KV heads, FFN 8192, vocab 128256, tied.</summary>
    public static RandomModelShape Llama32_1B => new("llama", 2048, 16, 32, 8, 64, 8192, 128256, 131072, Tied: true, RopeBase: 500000f);
}

public static class RandomModel
{
    public const int Bos = 1, Eos = 2, FirstWordToken = 3 + 256;

    /// <summary>Writes the model; matrices are stored as <paramref name="type"/> (norms and biases stay F32).
    /// <paramref name="typeOf"/>, if given, picks the type per tensor name instead (for llama.cpp-style mixes);
    /// <paramref name="extra"/> may add metadata or tensors (rope scaling, say).</summary>
    public static void Write(string path, RandomModelShape s, GgmlType type = GgmlType.F32, int seed = 1,
        Func<string, GgmlType>? typeOf = null, Action<GgufWriter>? extra = null, CancellationToken cancel = default)
    {
        var w = new GgufWriter();
        string a = s.Arch;
        w.Set("general.architecture", a)
         .Set("general.name", $"random-{a}")
         .Set($"{a}.context_length", (uint)s.Context)
         .Set($"{a}.embedding_length", (uint)s.Dim)
         .Set($"{a}.feed_forward_length", (uint)s.Ffn)
         .Set($"{a}.block_count", (uint)s.Layers)
         .Set($"{a}.attention.head_count", (uint)s.Heads)
         .Set($"{a}.attention.head_count_kv", (uint)s.KvHeads)
         .Set($"{a}.attention.layer_norm_rms_epsilon", 1e-6f)
         .Set($"{a}.rope.freq_base", s.RopeBase)
         .Set($"{a}.rope.dimension_count", (uint)s.HeadDim);
        if (s.HeadDim * s.Heads != s.Dim)
        {
            w.Set($"{a}.attention.key_length", (uint)s.HeadDim);
            w.Set($"{a}.attention.value_length", (uint)s.HeadDim);
        }
        AddVocabulary(w, s.Vocab);

        int q = s.Heads * s.HeadDim, kv = s.KvHeads * s.HeadDim, tensor = 0;
        GgmlType TypeOf(string name) => typeOf?.Invoke(name) ?? type;
        void Matrix(string name, int cols, int rows, float std) => AddMatrix(w, name, cols, rows, std, TypeOf(name), seed * 7919 + tensor++);
        void Vector(string name, int n, float mean, float std) => AddVector(w, name, n, mean, std, seed * 7919 + tensor++);

        Matrix("token_embd.weight", s.Dim, s.Vocab, 1.0f);
        for (int i = 0; i < s.Layers; i++)
        {
            Vector($"blk.{i}.attn_norm.weight", s.Dim, 1.0f, 0.1f);
            Matrix($"blk.{i}.attn_q.weight", s.Dim, q, 1.0f / MathF.Sqrt(s.Dim));
            Matrix($"blk.{i}.attn_k.weight", s.Dim, kv, 1.0f / MathF.Sqrt(s.Dim));
            Matrix($"blk.{i}.attn_v.weight", s.Dim, kv, 1.0f / MathF.Sqrt(s.Dim));
            Matrix($"blk.{i}.attn_output.weight", q, s.Dim, 1.0f / MathF.Sqrt(q));
            if (a == "qwen2")
            {
                Vector($"blk.{i}.attn_q.bias", q, 0f, 0.1f);
                Vector($"blk.{i}.attn_k.bias", kv, 0f, 0.1f);
                Vector($"blk.{i}.attn_v.bias", kv, 0f, 0.1f);
            }
            if (a == "qwen3")
            {
                Vector($"blk.{i}.attn_q_norm.weight", s.HeadDim, 1.0f, 0.1f);
                Vector($"blk.{i}.attn_k_norm.weight", s.HeadDim, 1.0f, 0.1f);
            }
            Vector($"blk.{i}.ffn_norm.weight", s.Dim, 1.0f, 0.1f);
            Matrix($"blk.{i}.ffn_gate.weight", s.Dim, s.Ffn, 1.0f / MathF.Sqrt(s.Dim));
            Matrix($"blk.{i}.ffn_up.weight", s.Dim, s.Ffn, 1.0f / MathF.Sqrt(s.Dim));
            Matrix($"blk.{i}.ffn_down.weight", s.Ffn, s.Dim, 1.0f / MathF.Sqrt(s.Ffn));
        }
        Vector("output_norm.weight", s.Dim, 1.0f, 0.1f);
        if (!s.Tied) Matrix("output.weight", s.Dim, s.Vocab, 4.0f / MathF.Sqrt(s.Dim));
        extra?.Invoke(w);
        w.Write(path, cancel);
    }

    /// <summary>A llama SentencePiece vocabulary: unk, BOS, EOS, 256 byte tokens, then words "▁w0", "▁w1", ...</summary>
    public static void AddVocabulary(GgufWriter w, int size)
    {
        var tokens = new string[size];
        var scores = new float[size];
        var types = new int[size];
        tokens[0] = "<unk>"; types[0] = 2;
        tokens[1] = "<s>"; types[1] = 3;
        tokens[2] = "</s>"; types[2] = 3;
        for (int b = 0; b < 256 && 3 + b < size; b++) { tokens[3 + b] = $"<0x{b:X2}>"; types[3 + b] = 6; }
        for (int i = FirstWordToken; i < size; i++)
        {
            tokens[i] = "\u2581w" + (i - FirstWordToken).ToString(System.Globalization.CultureInfo.InvariantCulture);
            scores[i] = -(i - FirstWordToken);
            types[i] = 1;
        }
        w.Set("tokenizer.ggml.model", "llama")
         .Set("tokenizer.ggml.tokens", tokens)
         .Set("tokenizer.ggml.scores", scores)
         .Set("tokenizer.ggml.token_type", types)
         .Set("tokenizer.ggml.bos_token_id", (uint)Bos)
         .Set("tokenizer.ggml.eos_token_id", (uint)Eos)
         .Set("tokenizer.ggml.unknown_token_id", 0u)
         .Set("tokenizer.ggml.add_bos_token", true)
         .Set("tokenizer.ggml.add_eos_token", false);
    }

    static void Fill(Span<float> v, float mean, float std, Random rng)
    {
        for (int i = 0; i < v.Length; i++)
            v[i] = mean + std * MathF.Sqrt(-2f * MathF.Log(1f - rng.NextSingle())) * MathF.Cos(2f * MathF.PI * rng.NextSingle());
    }

    static void AddVector(GgufWriter w, string name, int n, float mean, float std, int seed)
    {
        var v = new float[n];
        Fill(v, mean, std, new Random(seed));
        w.AddTensor(name, v, n);
    }

    static void AddMatrix(GgufWriter w, string name, int cols, int rows, float std, GgmlType type, int seed)
    {
        w.AddTensor(name, type, [cols, rows], stream =>
        {
            var rng = new Random(seed);
            var row = new float[cols];
            var bytes = new byte[GgmlTypes.RowBytes(type, cols)];
            for (int r = 0; r < rows; r++)
            {
                Fill(row, 0, std, rng);
                if (type == GgmlType.F32) stream.Write(MemoryMarshal.AsBytes(row.AsSpan()));
                else
                {
                    QuantKernels.QuantizeReference(type, row, bytes);
                    stream.Write(bytes);
                }
            }
        });
    }
}
