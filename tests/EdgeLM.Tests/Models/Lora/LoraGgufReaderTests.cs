// GGUF adapters whose factors are stored in F16 or Q8_0 (convert_lora_to_gguf.py's --outtype) read
// as the values those types hold: the same as an in-memory adapter rounded through the type.
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Models.Lora;
using EdgeLM.Quantization;
using EdgeLM.Tensors;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Models.Lora;

public class LoraGgufReaderTests
{
    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.Q8_0)]
    public void Factors_in_other_types_read_as_the_values_they_hold(GgmlType type)
    {
        using var dir = new TempDir();
        var shape = new RandomModelShape("qwen3", HeadDim: 32);
        var a = LoraTestFiles.Random(shape, rank: 32, alpha: 16, seed: 101, "attn_q", "ffn_down");
        string path = dir.File("adapter.gguf");
        var w = new GgufWriter();
        w.Set("general.architecture", "qwen3").Set("general.type", "adapter").Set("adapter.type", "lora").Set("adapter.lora.alpha", 16f);
        var rounded = new List<LoraTensor>();
        foreach (var t in a.Tensors)
        {
            // Q8_0 blocks run along rows of 32: A's rows are In long, B's rows Rank (32) long.
            var (aBytes, aRound) = Store(type, t.A, t.In);
            var (bBytes, bRound) = Store(type, t.B, t.Rank);
            w.AddTensor(t.Target + ".lora_a", type, [t.In, t.Rank], aBytes);
            w.AddTensor(t.Target + ".lora_b", type, [t.Rank, t.Out], bBytes);
            rounded.Add(t with { A = aRound, B = bRound });
        }
        w.Write(path);

        var read = LoraGgufReader.Read(path);
        Assert.Equal("qwen3", read.Architecture);
        Assert.Equal(16f, read.Alpha);
        var byName = read.Tensors.ToDictionary(t => t.Target);
        foreach (var t in rounded)
        {
            var r = byName[t.Target];
            Assert.Equal((t.Rank, t.In, t.Out), (r.Rank, r.In, r.Out));
            Assert.Equal(t.A, r.A);
            Assert.Equal(t.B, r.B);
        }
    }

    /// <summary>The bytes of x in type (ggml's reference quantizer), and what they dequantize to, row by row.</summary>
    static (byte[] Bytes, float[] Values) Store(GgmlType type, float[] x, int cols)
    {
        long rowBytes = GgmlTypes.RowBytes(type, cols);
        int rows = x.Length / cols;
        var bytes = new byte[rowBytes * rows];
        var values = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            var dst = bytes.AsSpan((int)(r * rowBytes), (int)rowBytes);
            QuantKernels.QuantizeReference(type, x.AsSpan(r * cols, cols), dst);
            QuantKernels.Dequantize(type, dst, values.AsSpan(r * cols, cols));
        }
        return (bytes, values);
    }
}
