// Writes small random-weight models of each architecture in real GGUF layout (llama.cpp loads
// them), with a SentencePiece-style vocabulary of control, byte and word tokens. Weights are
// Gaussian with fan-in scaling; the output head is scaled up so the next-token distribution is
// peaked and greedy decoding is stable against rounding differences between engines.
using EdgeLM.Formats.Gguf;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Tests.Support;

public sealed record TestShape(
    string Arch, int Dim = 64, int Layers = 2, int Heads = 4, int KvHeads = 2, int HeadDim = 16,
    int Ffn = 128, int Vocab = 320, int Context = 256, bool Tied = false, float RopeBase = 10000f);

public static class TestModels
{
    public const int Bos = 1, Eos = 2, FirstWordToken = 3 + 256;

    public static void Write(string path, TestShape s, GgmlType type = GgmlType.F32, int seed = 1)
    {
        var rng = new Random(seed);
        var w = new GgufWriter();
        string a = s.Arch;
        w.Set("general.architecture", a)
         .Set("general.name", $"test-{a}")
         .Set($"{a}.context_length", (uint)s.Context)
         .Set($"{a}.embedding_length", (uint)s.Dim)
         .Set($"{a}.feed_forward_length", (uint)s.Ffn)
         .Set($"{a}.block_count", (uint)s.Layers)
         .Set($"{a}.attention.head_count", (uint)s.Heads)
         .Set($"{a}.attention.head_count_kv", (uint)s.KvHeads)
         .Set($"{a}.attention.layer_norm_rms_epsilon", 1e-6f)
         .Set($"{a}.rope.freq_base", s.RopeBase)
         .Set($"{a}.rope.dimension_count", (uint)s.HeadDim)
         .Set("general.file_type", 0u);
        if (s.HeadDim * s.Heads != s.Dim)
        {
            w.Set($"{a}.attention.key_length", (uint)s.HeadDim);
            w.Set($"{a}.attention.value_length", (uint)s.HeadDim);
        }
        AddVocabulary(w, s.Vocab);

        int q = s.Heads * s.HeadDim, kv = s.KvHeads * s.HeadDim;
        Matrix(w, "token_embd.weight", s.Dim, s.Vocab, 1.0f, type, rng);
        for (int i = 0; i < s.Layers; i++)
        {
            Vector(w, $"blk.{i}.attn_norm.weight", s.Dim, 1.0f, 0.1f, rng);
            Matrix(w, $"blk.{i}.attn_q.weight", s.Dim, q, 1.0f / MathF.Sqrt(s.Dim), type, rng);
            Matrix(w, $"blk.{i}.attn_k.weight", s.Dim, kv, 1.0f / MathF.Sqrt(s.Dim), type, rng);
            Matrix(w, $"blk.{i}.attn_v.weight", s.Dim, kv, 1.0f / MathF.Sqrt(s.Dim), type, rng);
            Matrix(w, $"blk.{i}.attn_output.weight", q, s.Dim, 1.0f / MathF.Sqrt(q), type, rng);
            if (a == "qwen2")
            {
                Vector(w, $"blk.{i}.attn_q.bias", q, 0f, 0.1f, rng);
                Vector(w, $"blk.{i}.attn_k.bias", kv, 0f, 0.1f, rng);
                Vector(w, $"blk.{i}.attn_v.bias", kv, 0f, 0.1f, rng);
            }
            if (a == "qwen3")
            {
                Vector(w, $"blk.{i}.attn_q_norm.weight", s.HeadDim, 1.0f, 0.1f, rng);
                Vector(w, $"blk.{i}.attn_k_norm.weight", s.HeadDim, 1.0f, 0.1f, rng);
            }
            Vector(w, $"blk.{i}.ffn_norm.weight", s.Dim, 1.0f, 0.1f, rng);
            Matrix(w, $"blk.{i}.ffn_gate.weight", s.Dim, s.Ffn, 1.0f / MathF.Sqrt(s.Dim), type, rng);
            Matrix(w, $"blk.{i}.ffn_up.weight", s.Dim, s.Ffn, 1.0f / MathF.Sqrt(s.Dim), type, rng);
            Matrix(w, $"blk.{i}.ffn_down.weight", s.Ffn, s.Dim, 1.0f / MathF.Sqrt(s.Ffn), type, rng);
        }
        Vector(w, "output_norm.weight", s.Dim, 1.0f, 0.1f, rng);
        if (!s.Tied) Matrix(w, "output.weight", s.Dim, s.Vocab, 4.0f / MathF.Sqrt(s.Dim), type, rng);
        w.Write(path);
    }

    /// <summary>A llama SentencePiece vocabulary: unk, BOS, EOS, 256 byte tokens, then words.</summary>
    public static void AddVocabulary(GgufWriter w, int size)
    {
        var tokens = new string[size];
        var scores = new float[size];
        var types = new int[size];
        tokens[0] = "<unk>"; types[0] = 2;
        tokens[1] = "<s>"; types[1] = 3;
        tokens[2] = "</s>"; types[2] = 3;
        for (int b = 0; b < 256; b++) { tokens[3 + b] = $"<0x{b:X2}>"; types[3 + b] = 6; }
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

    static float Gaussian(Random rng) =>
        MathF.Sqrt(-2f * MathF.Log(1f - rng.NextSingle())) * MathF.Cos(2f * MathF.PI * rng.NextSingle());

    static void Vector(GgufWriter w, string name, int n, float mean, float std, Random rng)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = mean + std * Gaussian(rng);
        w.AddTensor(name, v, n);
    }

    static void Matrix(GgufWriter w, string name, int cols, int rows, float std, GgmlType type, Random rng)
    {
        var v = new float[cols * rows];
        for (int i = 0; i < v.Length; i++) v[i] = std * Gaussian(rng);
        if (type == GgmlType.F32)
        {
            w.AddTensor(name, v, cols, rows);
            return;
        }
        long rowBytes = GgmlTypes.RowBytes(type, cols);
        var bytes = new byte[rowBytes * rows];
        for (int r = 0; r < rows; r++)
            QuantKernels.Quantize(type, v.AsSpan(r * cols, cols), bytes.AsSpan((int)(r * rowBytes), (int)rowBytes));
        w.AddTensor(name, type, [cols, rows], bytes);
    }
}
