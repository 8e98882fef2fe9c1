// Damaged or unsupported tokenizer files are clear errors that name the file and what is wrong
// (InvalidModelFileException), never a crash; a damaged Unigram charsmap inside the offsets it
// declares can only normalize less, so random bytes there still encode every string.
using EdgeLM.Formats;
using EdgeLM.Tests.Support;
using EdgeLM.Tokenizers;

namespace EdgeLM.Tests.Tokenizers;

public sealed class TokenizerFileErrorTests : IDisposable
{
    readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    [Theory]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {}}}""", "WordLevel")]
    [InlineData("""{"model": {"type": "Unigram", "vocab": [["a", -1.0]], "unk_id": 5}}""", "unk_id 5")]
    [InlineData("""{"model": {"type": "Unigram", "vocab": [["a", "x"]], "unk_id": 0}}""", "[piece, score]")]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {"a": 0}}}""", "[UNK]")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""", "neither byte-level")]
    [InlineData("""{"model": {"type": "Unigram", "vocab": [["<unk>", 0.0]], "unk_id": 0}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "!!"}}""", "base64")]
    [InlineData("""{"added_tokens": [{"id": "x"}], "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}}""", "added_tokens")]
    [InlineData("""[1, 2]""", "model")]
    public void Bad_tokenizer_json_names_the_file_and_the_problem(string json, string expected)
    {
        string path = _tmp.File("tokenizer.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<InvalidModelFileException>(() => TokenizerData.FromHuggingFace(path));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_charsmap_that_runs_past_its_end_is_rejected_and_random_charsmap_bytes_never_crash()
    {
        var good = TokenizerData.FromSentencePieceModel(MadeUpVocabs.UnigramModel);
        byte[] cm = good.PrecompiledCharsmap!;
        var tooLong = (byte[])cm.Clone();
        BitConverter.GetBytes(cm.Length).CopyTo(tooLong, 0);
        Assert.Throws<InvalidModelFileException>(() => (good with { PrecompiledCharsmap = tooLong }).Validate("x.gguf"));

        var rng = new Random(11);
        var damaged = (byte[])cm.Clone();
        for (int i = 4; i < damaged.Length; i += rng.Next(1, 64)) damaged[i] = (byte)rng.Next(256);
        var tok = new Tokenizer((good with { PrecompiledCharsmap = damaged }).Validate("x.gguf"));
        for (int i = 0; i < 300; i++)
        {
            int[] ids = tok.Encode(RandomText.Next(rng), addBos: true);
            Assert.All(ids, id => Assert.InRange(id, 0, tok.VocabSize - 1));
        }
    }

    [Fact]
    public void A_pre_tokenizer_with_no_tokenizer_json_form_is_refused_not_written_as_another()
    {
        var data = VocabCases.Data("gpt-2") with { Pre = "chatglm4" };
        var e = Assert.Throws<NotSupportedException>(() => TokenizerJson.Write(data));
        Assert.Contains("chatglm4", e.Message);
    }

    [Fact]
    public void A_sentencepiece_model_of_an_unsupported_type_is_an_error()
    {
        // ModelProto { pieces { piece: "a" score: 0 type: NORMAL } trainer_spec { model_type: WORD } }
        byte[] proto = [0x0A, 0x08, 0x0A, 0x01, (byte)'a', 0x15, 0, 0, 0, 0, 0x12, 0x02, 0x18, 0x03];
        string path = _tmp.File("word.model");
        File.WriteAllBytes(path, proto);
        var e = Assert.Throws<InvalidModelFileException>(() => TokenizerData.FromSentencePieceModel(path));
        Assert.Contains("model_type 3", e.Message);
    }
}
