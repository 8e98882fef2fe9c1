// Each corpus format read through the byte vocabulary, where the expected ids are the UTF-8 bytes
// of the text (+3) and the boundaries are BOS 1 / EOS 2: .txt, .md, JSONL "text", a .json array,
// a mixed folder (with files of other kinds skipped), the document cap and chunking.
using System.Text;
using EdgeLM.Tests.Support;
using EdgeLM.Training;
using EdgeLM.Training.Data;

namespace EdgeLM.Tests.Training.Data;

public sealed class CorpusFormatTests
{
    static readonly ByteCorpusTokenizer Bytes = new();
    static readonly CorpusOptions NoSplit = new(ValidationFraction: 0);

    /// <summary>BOS + UTF-8 bytes + EOS, as ByteDataset numbers them.</summary>
    internal static int[] Doc(string text) => [1, .. Encoding.UTF8.GetBytes(text).Select(b => b + 3), 2];

    [Fact]
    public void A_text_file_is_one_document()
    {
        using var dir = new TempDir();
        string text = "First line.\nSecond line, ünïcode ✓.\n";
        File.WriteAllText(dir.File("a.txt"), text);
        var (train, validation, stats) = TrainingCorpus.Load([dir.File("a.txt")], Bytes, NoSplit);
        Assert.Equal(Doc(text), train.Tokens);
        Assert.Null(train.LossMask);
        Assert.Equal(0, validation.Length);
        Assert.Equal(1, stats.Documents);
    }

    [Fact]
    public void Jsonl_text_lines_are_documents_in_order_and_blank_lines_are_ignored()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("d.jsonl"), "{\"text\": \"alpha\"}\r\n\n{\"text\": \"b\\u00e9ta\\n\", \"meta\": 3}\n");
        var (train, _, stats) = TrainingCorpus.Load([dir.File("d.jsonl")], Bytes, NoSplit);
        Assert.Equal([.. Doc("alpha"), .. Doc("béta\n")], train.Tokens);
        Assert.Equal(2, stats.Documents);
    }

    [Fact]
    public void A_json_file_may_hold_an_array_of_records()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("d.json"), "[{\"text\": \"one\"}, {\"text\": \"two\"}]");
        var (train, _, _) = TrainingCorpus.Load([dir.File("d.json")], Bytes, NoSplit);
        Assert.Equal([.. Doc("one"), .. Doc("two")], train.Tokens);
    }

    [Fact]
    public void A_mixed_folder_is_read_recursively_in_name_order_and_other_files_are_skipped()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("sub"));
        File.WriteAllText(dir.File("b.md"), "# B");
        File.WriteAllText(dir.File("a.txt"), "A");
        File.WriteAllText(dir.File("sub/c.jsonl"), "{\"text\": \"C\"}\n");
        File.WriteAllBytes(dir.File("model.bin"), [0, 1, 2]);
        File.WriteAllText(dir.File("notes.csv"), "x,y");
        var (train, _, stats) = TrainingCorpus.Load([dir.Path], Bytes, NoSplit);
        Assert.Equal([.. Doc("A"), .. Doc("# B"), .. Doc("C")], train.Tokens);
        Assert.Equal(3, stats.Files);
        Assert.Equal(2, stats.SkippedFiles);
    }

    [Fact]
    public void Documents_and_conversations_mix_and_the_mask_covers_documents_whole()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "doc");
        File.WriteAllText(dir.File("c.jsonl"), "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n");
        var options = NoSplit with { ChatTemplate = EdgeLM.Templates.ChatTemplate.Fallback("chatml") };
        var (train, _, stats) = TrainingCorpus.Load([dir.Path], Bytes, options);
        Assert.Equal(1, stats.Conversations);
        Assert.NotNull(train.LossMask);
        int doc = Doc("doc").Length;
        Assert.All(train.LossMask![..doc], Assert.True);
        // The byte vocabulary has no special tokens, so the turn runs to its end: "yo<|im_end|>\n".
        Assert.Equal(["doc", "yo<|im_end|>\n"], MaskedRuns(train, Bytes));
    }

    [Fact]
    public void The_cap_truncates_and_chunking_cuts_a_long_text_into_units_that_can_be_split()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "abcdefghij");
        var capped = TrainingCorpus.Load([dir.File("a.txt")], Bytes, NoSplit with { MaxDocumentTokens = 4 });
        Assert.Equal(Doc("abcdefghij")[..4], capped.Train.Tokens);
        Assert.Equal(1, capped.Stats.TruncatedDocuments);

        var chunked = TrainingCorpus.Load([dir.File("a.txt")], Bytes, new CorpusOptions(ValidationFraction: 0.25, ChunkTokens: 3));
        Assert.Equal(4, chunked.Stats.TrainUnits + chunked.Stats.ValidationUnits);
        Assert.Equal(1, chunked.Stats.ValidationUnits);
        // BOS only on the first piece, EOS only on the last: the pieces put back are the document.
        Assert.Equal(Doc("abcdefghij").Length, chunked.Train.Length + chunked.Validation.Length);
    }

    /// <summary>The masked tokens, decoded run by run.</summary>
    internal static List<string> MaskedRuns(TokenSequence seq, ICorpusTokenizer tokenizer)
    {
        var runs = new List<string>();
        var mask = seq.LossMask!;
        for (int i = 0; i < mask.Length; i++)
        {
            if (!mask[i] || (i > 0 && mask[i - 1])) continue; // not the start of a run
            int j = i;
            while (j < mask.Length && mask[j]) j++;
            runs.Add(tokenizer.Decode(seq.Tokens.AsSpan(i, j - i)));
        }
        return runs;
    }
}
