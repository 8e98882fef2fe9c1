// --data as a training run reads it: a folder gives one document per .txt / .md file in ordinal
// order (other files ignored), each joined as BOS + bytes + EOS under the byte vocabulary, the last
// fraction held out; invalid UTF-8 and data too short for one window are errors that say why.
using EdgeLM.Tests.Support;
using EdgeLM.Training;
using EdgeLM.Training.Run;

namespace EdgeLM.Tests.Training;

public class RunDataTests
{
    [Fact]
    public void A_folder_is_read_as_documents_joined_with_bos_and_eos()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("b.md"), "# Bb");
        File.WriteAllText(dir.File("a.txt"), "héllo");
        File.WriteAllText(dir.File("skip.json"), "{}");
        var docs = RunData.ReadDocuments(dir.Path);
        Assert.Equal(["héllo", "# Bb"], docs);

        var byteTok = RunTokenizer.Create(new RunConfig(), dir.Path, () => docs);
        var (train, val) = RunData.Load(docs, byteTok, valFraction: 0.25, T: 3);
        int[] expected = [ByteDataset.Bos, .. ByteDataset.Encode("héllo"), 2, ByteDataset.Bos, .. ByteDataset.Encode("# Bb"), 2];
        Assert.Equal(expected, train.Tokens.Concat(val.Tokens).ToArray());
        Assert.Equal((int)(expected.Length * 0.75), train.Length);
        Assert.Null(train.LossMask);
    }

    [Fact]
    public void Invalid_utf8_and_too_little_data_are_clear_errors()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("bad.txt"), [0x41, 0xC3, 0x28]);
        var e = Assert.Throws<FormatException>(() => RunData.ReadDocuments(dir.Path));
        Assert.Contains("bad.txt", e.Message);
        var tok = RunTokenizer.Create(new RunConfig(), dir.Path, () => []);
        var short_ = Assert.Throws<ArgumentException>(() => RunData.Load(["tiny text"], tok, 0.1, T: 64));
        Assert.Contains("--ctx 64", short_.Message);
        Assert.Throws<FileNotFoundException>(() => RunData.ReadDocuments(dir.File("missing.txt")));
    }
}
