using EdgeLM.Inference;

namespace EdgeLM.Tests.Inference;

public class StopStringsTests
{
    static string Feed(StopStrings s, params string[] pieces) => string.Concat(pieces.Select(s.Push)) + s.Flush();

    [Fact]
    public void Text_before_a_stop_string_split_across_pieces_is_kept_and_the_rest_dropped()
    {
        var s = new StopStrings(["<|end|>"]);
        Assert.Equal("Hello wor", Feed(s, "Hel", "lo wor", "<|e", "nd|>", " more"));
        Assert.True(s.Stopped);
    }

    [Fact]
    public void Without_a_match_everything_comes_out_and_held_back_text_is_flushed()
    {
        var s = new StopStrings(["\n\n", "STOP"]);
        Assert.Equal("a\nb ST c", Feed(s, "a\n", "b S", "T c"));
        Assert.False(s.Stopped);
    }

    [Fact]
    public void The_earliest_of_several_stop_strings_wins()
    {
        var s = new StopStrings(["xyz", "b"]);
        Assert.Equal("a", Feed(s, "abxyz"));
    }

    [Fact]
    public void Held_back_text_never_ends_in_half_a_surrogate_pair()
    {
        var s = new StopStrings(["zz"]);
        string emoji = "😀";
        string shown = s.Push("a" + emoji);
        Assert.False(shown.Length > 0 && char.IsHighSurrogate(shown[^1]));
        Assert.Equal("a" + emoji + "b", shown + s.Push("b") + s.Flush());
    }
}
