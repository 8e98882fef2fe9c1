// The Q4_K_M mix the benchmark writes, checked against llama.cpp's own quantizer: an F32 random
// model is quantized with LLAMA_FTYPE_MOSTLY_Q4_K_M and every matrix's type must be the one the
// chooser picks. quantizeOutputTensor is on, as in llama-quantize (LLamaSharp's default leaves the head alone). Widths of 384 (not a multiple of 256) exercise the Q5_0 / Q8_0 fallbacks.
using EdgeLM.Bench;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tests.Support;
using LLama;
using LLama.Native;

namespace EdgeLM.Tests.Bench;

public class BenchQ4KMTests
{
    [Theory]
    [InlineData(256, 512, 8, false)]
    [InlineData(384, 512, 16, true)]
    public void The_q4_k_m_chooser_matches_llama_cpp_quantize(int dim, int ffn, int layers, bool tied)
    {
        using var dir = new TempDir();
        string f32 = dir.File("f32.gguf"), q = dir.File("q4km.gguf");
        var s = new RandomModelShape("qwen2", Dim: dim, Layers: layers, Heads: dim / 64, KvHeads: 1, HeadDim: 64, Ffn: ffn, Vocab: 512, Tied: tied);
        RandomModel.Write(f32, s);
        NativeApi.llama_print_system_info();
        Assert.True(LLamaQuantizer.Quantize(f32, q, LLamaFtype.MOSTLY_Q4_K_M, nthread: 1, allowRequantize: true, quantizeOutputTensor: true), "llama.cpp quantize failed");

        var choose = BenchModels.TypeChooser("Q4_K_M", s);
        using var src = GgufModelSource.Open(q);
        var wrong = src.Tensors.Where(t => t.Dimensions.Length == 2 && choose(t.Name) != t.Type)
            .Select(t => $"{t.Name}: llama.cpp {t.Type}, chooser {choose(t.Name)}").ToList();
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }
}
