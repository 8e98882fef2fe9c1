// llama.cpp as the oracle for the format layer: stories260K goes through our sources and writers
// into a GGUF file, llama.cpp (through LLamaSharp) greedy-decodes it from BOS, and the ids must be
// exactly stories260K.greedy200.ids.txt. Two routes: llama2.c -> GGUF directly (names, shapes,
// metadata keys, interleaved RoPE), and llama2.c -> Hugging Face folder (un-permuted Q/K,
// config.json) -> SafetensorsModelSource -> GGUF with the converter's permute applied, which only
// decodes correctly if the un-permute, the config mapping and QkRotateHalf all agree with llama.cpp.
using System.Runtime.InteropServices;
using System.Text;
using EdgeLM.Formats.Gguf;
using EdgeLM.Formats.HuggingFace;
using EdgeLM.Formats.Llama2c;
using EdgeLM.Formats.Safetensors;
using EdgeLM.Models;
using EdgeLM.Tests.Support;
using LLama;
using LLama.Common;
using LLama.Native;

namespace EdgeLM.Tests.Formats;

public class ConversionOracleTests
{
    /// <summary>tok512.bin (llama2.c tokenizer: max_token_length, then score, length, bytes per token)
    /// as llama.cpp's SentencePiece vocabulary: '▁' restored, ids 0/1/2 unknown/BOS/EOS, bytes typed 6.</summary>
    static void AddTokenizer(GgufWriter w)
    {
        using var r = new BinaryReader(File.OpenRead(TestData.File("llama2c", "tok512.bin")));
        r.ReadInt32();
        var tokens = new string[512];
        var scores = new float[512];
        var types = new int[512];
        for (int i = 0; i < 512; i++)
        {
            scores[i] = r.ReadSingle();
            string piece = Encoding.UTF8.GetString(r.ReadBytes(r.ReadInt32()));
            tokens[i] = i switch { 0 => "<unk>", 1 => "<s>", 2 => "</s>", _ => piece.Replace(' ', '\u2581') };
            types[i] = i == 0 ? 2 : i <= 2 ? 3 : piece.StartsWith("<0x", StringComparison.Ordinal) && piece.Length == 6 ? 6 : 1;
        }
        w.Set("tokenizer.ggml.model", "llama").Set("tokenizer.ggml.tokens", tokens).Set("tokenizer.ggml.scores", scores)
            .Set("tokenizer.ggml.token_type", types).Set("tokenizer.ggml.bos_token_id", 1u).Set("tokenizer.ggml.eos_token_id", 2u)
            .Set("tokenizer.ggml.unknown_token_id", 0u);
    }

    /// <summary>The converter's permute of HF Q/K rows into GGUF order (see HfFolderWriterTests).</summary>
    static byte[] Permute(TensorEntry t, int nHead)
    {
        byte[] src = t.Bytes.ToArray(), dst = new byte[src.Length];
        long rows = t.Rows, rowBytes = t.RowBytes, half = rows / nHead / 2;
        for (long h = 0; h < nHead; h++)
            for (long a = 0; a < half; a++)
                for (long b = 0; b < 2; b++)
                    Array.Copy(src, ((h * 2 + b) * half + a) * rowBytes, dst, ((h * half + a) * 2 + b) * rowBytes, rowBytes);
        return dst;
    }

    static void WriteGguf(IModelSource source, string path, int heads, int kvHeads)
    {
        var w = new GgufWriter();
        foreach (var (k, v) in source.Metadata) w.Set(k, v);
        AddTokenizer(w);
        foreach (var t in source.Tensors)
        {
            byte[] data = !source.QkRotateHalf ? t.Bytes.ToArray()
                : t.Name.EndsWith("attn_q.weight", StringComparison.Ordinal) ? Permute(t, heads)
                : t.Name.EndsWith("attn_k.weight", StringComparison.Ordinal) ? Permute(t, kvHeads)
                : t.Bytes.ToArray();
            w.AddTensor(t.Name, t.Type, t.Dimensions, data);
        }
        w.Write(path);
    }

    static int[] GreedyIds(string gguf, int count)
    {
        NativeApi.llama_empty_call();
        var p = new ModelParams(gguf)
        {
            ContextSize = 256,
            BatchSize = 64,
            Threads = 2,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
        };
        using var weights = LLamaWeights.LoadFromFile(p);
        using var ctx = weights.CreateContext(p);
        var batch = new LLamaBatch();
        var ids = new int[count];
        int token = 1; // BOS
        for (int pos = 0; pos < count; pos++)
        {
            batch.Clear();
            batch.Add(token, pos, LLamaSeqId.Zero, true);
            Assert.Equal(DecodeResult.Ok, ctx.Decode(batch));
            var logits = ctx.NativeHandle.GetLogitsIth(0);
            int best = 0;
            for (int i = 1; i < logits.Length; i++)
                if (logits[i] > logits[best]) best = i;
            ids[pos] = token = best;
        }
        return ids;
    }

    static int[] ExpectedIds() => File.ReadAllText(TestData.File("llama2c", "stories260K.greedy200.ids.txt"))
        .Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();

    [Fact]
    public void Llama2c_source_written_as_gguf_decodes_the_known_answer_in_llama_cpp()
    {
        using var dir = new TempDir();
        using (var src = Llama2cModelSource.Open(TestData.File("llama2c", "stories260K.bin")))
            WriteGguf(src, dir.File("m.gguf"), 8, 4);
        int[] want = ExpectedIds();
        Assert.Equal(want, GreedyIds(dir.File("m.gguf"), want.Length));
    }

    [Fact]
    public void Hf_folder_round_trip_decodes_the_known_answer_in_llama_cpp()
    {
        using var dir = new TempDir();
        string hf = Path.Combine(dir.Path, "hf");
        using (var src = Llama2cModelSource.Open(TestData.File("llama2c", "stories260K.bin")))
            HfFolderWriter.Write(src, hf);
        using (var m = SafetensorsModelSource.Open(hf))
        {
            Assert.True(m.QkRotateHalf);
            WriteGguf(m, dir.File("m.gguf"), 8, 4);
        }
        int[] want = ExpectedIds();
        Assert.Equal(want, GreedyIds(dir.File("m.gguf"), want.Length));
    }
}
