// Decoding: Decode(Encode(x)) == x where the vocabulary is lossless, and the streaming decoder
// never emits part of a character while its concatenated output equals Decode.
using System.Text;
using EdgeLM.Tokenizers;

namespace EdgeLM.Tests.Tokenizers;

public class DecodeTests
{
    const int Strings = 200;

    [Theory]
    [MemberData(nameof(VocabCases.WithCases), MemberType = typeof(VocabCases))]
    public void Decode_inverts_Encode(string vocab)
    {
        var tok = VocabCases.Get(vocab);
        var rng = new Random(99);
        for (int i = 0; i < Strings; i++)
        {
            // Lone surrogates have no UTF-8 form: encoding sees U+FFFD, so the round trip gives U+FFFD.
            string text = System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(RandomText.Next(rng)));
            Assert.Equal(WithoutUnencodable(tok, text), tok.Decode(tok.Encode(text)));
        }
    }

    /// <summary>
    /// Falcon's vocabulary has no token for some ASCII control bytes (\v, \x03 ...); llama.cpp drops them,
    /// so does the encoder, and the round trip cannot bring them back.
    /// </summary>
    static string WithoutUnencodable(Tokenizer tok, string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
            if (c >= 0x80 || tok.IsSentencePiece || tok.Encode(c.ToString()).Length > 0) sb.Append(c);
        return sb.ToString();
    }

    [Theory]
    [InlineData("llama-spm")]   // emoji and rare CJK fall back to byte tokens
    [InlineData("gpt-2")]       // byte-level: characters split across tokens
    [InlineData("qwen2")]
    public void Streaming_output_is_whole_characters_and_matches_Decode(string vocab)
    {
        var tok = VocabCases.Get(vocab);
        const string text = "深度学习 🦙🧑‍💻 한국어 テスト 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ½ naïve";
        int[] ids = tok.Encode(text);
        var dec = tok.CreateStreamingDecoder();
        var all = new StringBuilder();
        int partialSeen = 0;
        foreach (int id in ids)
        {
            string chunk = dec.Push(id);
            Assert.DoesNotContain('\uFFFD', chunk);
            Assert.True(chunk.EnumerateRunes().All(r => r != Rune.ReplacementChar), chunk);
            if (chunk.Length == 0) partialSeen++;
            all.Append(chunk);
        }
        all.Append(dec.Flush());
        Assert.Equal(tok.Decode(ids), all.ToString());
        Assert.Equal(text, all.ToString());
        Assert.True(partialSeen > 0, "the text should split at least one character across tokens");
    }

    [Fact]
    public void Invalid_bytes_become_one_replacement_once_certain()
    {
        var tok = VocabCases.Get("llama-spm");
        int B(int b) => tok.Encode("").Length + IdOf(tok, $"<0x{b:X2}>");
        var dec = tok.CreateStreamingDecoder(atSequenceStart: false);
        Assert.Equal("", dec.Push(B(0xE4)));            // could still become a 3-byte character
        Assert.Equal("", dec.Push(B(0xB8)));
        Assert.Equal("\uFFFDA", dec.Push(B(0x41)));     // 'A' proves E4 B8 will never complete
        Assert.Equal("", dec.Push(B(0xF0)));
        Assert.Equal("\uFFFD", dec.Flush());            // the stream ended inside a character
    }

    static int IdOf(Tokenizer tok, string text)
    {
        for (int i = 0; i < tok.VocabSize; i++)
            if (tok.TokenText(i) == text) return i;
        throw new InvalidOperationException(text);
    }

    [Fact]
    public void End_of_generation_tokens_follow_llama_cpp()
    {
        var qwen = VocabCases.Get("qwen2");
        int imEnd = qwen.Encode("<|im_end|>", parseSpecial: true).Single();
        Assert.True(qwen.IsEndOfGeneration(imEnd));
        Assert.True(qwen.IsEndOfGeneration(qwen.Encode("<|endoftext|>", parseSpecial: true).Single()));
        Assert.False(qwen.IsEndOfGeneration(qwen.Encode("<|im_start|>", parseSpecial: true).Single()));
        var llama3 = VocabCases.Get("llama-bpe");
        Assert.True(llama3.IsEndOfGeneration(llama3.Encode("<|eot_id|>", parseSpecial: true).Single()));
        Assert.True(llama3.IsEndOfGeneration(llama3.EosId));
        Assert.Equal(128000, llama3.BosId);
        Assert.True(llama3.AddBos);
        Assert.Equal("<|im_end|>", qwen.TokenText(qwen.EosId));
        Assert.Equal(" world", Encoding.UTF8.GetString(llama3.TokenBytes(llama3.Encode(" world").Single())));
    }
}
