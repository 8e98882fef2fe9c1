// llama2.c's tokenizers: tokenizer.bin and the SentencePiece .model it was exported from load to the
// same vocabulary, and the stories260K greedy ids decode, one id at a time, to llama2.c's expected text.
using EdgeLM.Formats;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;

namespace EdgeLM.Tests.Tokenizers;

public class Llama2cTokenizerTests
{
    static string File(string name) => TestData.File("llama2c", name);

    [Theory]
    [InlineData("tok512.bin", "tok512.model")]
    [InlineData("llama2_tokenizer.bin", "llama2_tokenizer.model")]
    public void Bin_and_model_load_to_the_same_vocabulary(string bin, string model)
    {
        var a = TokenizerData.FromLlama2cBin(File(bin));
        var b = TokenizerData.FromSentencePieceModel(File(model));
        Assert.Equal(b.Tokens, a.Tokens);
        Assert.Equal(b.Types, a.Types);
        Assert.Equal(b.Scores, a.Scores);
        Assert.Equal((b.BosId, b.EosId, b.UnkId, b.AddSpacePrefix), (a.BosId, a.EosId, a.UnkId, a.AddSpacePrefix));
        Assert.Equal(TokenType.Byte, a.Types[3]); // <0x00>
    }

    [Fact]
    public void The_Llama2_model_is_the_vocabulary_llama_cpp_ships_as_llama_spm()
    {
        var ours = TokenizerData.FromSentencePieceModel(File("llama2_tokenizer.model"));
        var gguf = Tokenizer.LoadData(VocabCases.LlamaCpp("llama-spm"));
        Assert.Equal(gguf.Tokens, ours.Tokens);
        Assert.Equal(gguf.Scores, ours.Scores);
        Assert.Equal(gguf.Types, ours.Types);
    }

    [Fact]
    public void Greedy_ids_stream_to_the_expected_llama2c_text()
    {
        var tok = Tokenizer.Load(File("tok512.bin"));
        int[] ids = System.IO.File.ReadAllText(File("stories260K.greedy200.ids.txt"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        string expected = System.IO.File.ReadAllText(File("stories260K.greedy200.expected.txt"));
        // The ids follow BOS; feeding BOS first must not change the text.
        var decoder = tok.CreateStreamingDecoder();
        var sb = new System.Text.StringBuilder(decoder.Push(tok.BosId));
        foreach (int id in ids) sb.Append(decoder.Push(id));
        sb.Append(decoder.Flush());
        Assert.Equal(expected, sb.ToString());
        Assert.StartsWith("Once upon", expected, StringComparison.Ordinal);
        Assert.Equal(expected, tok.Decode(ids));
    }

    [Fact]
    public void A_truncated_tokenizer_bin_names_the_file()
    {
        using var tmp = new TempDir();
        byte[] bytes = System.IO.File.ReadAllBytes(File("tok512.bin"));
        string path = tmp.File("cut.bin");
        System.IO.File.WriteAllBytes(path, bytes[..(bytes.Length - 3)]);
        var e = Assert.Throws<InvalidModelFileException>(() => TokenizerData.FromLlama2cBin(path));
        Assert.Contains("cut.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains("token 511", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_sentencepiece_model_names_the_file()
    {
        using var tmp = new TempDir();
        byte[] bytes = System.IO.File.ReadAllBytes(File("tok512.model"));
        string path = tmp.File("bad.model");
        System.IO.File.WriteAllBytes(path, bytes[..1000]);
        var e = Assert.Throws<InvalidModelFileException>(() => TokenizerData.FromSentencePieceModel(path));
        Assert.Contains("bad.model", e.Message, StringComparison.Ordinal);
    }
}
