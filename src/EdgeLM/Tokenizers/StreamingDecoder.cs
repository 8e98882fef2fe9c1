// Incremental detokenizer for generation: ids in, complete UTF-8 text out. Bytes of a character
// split across tokens wait until the character completes; a sequence that can no longer become valid
// is emitted as U+FFFD (one per maximal invalid subpart, as Encoding.UTF8 does). At the start of a
// sequence the SentencePiece dummy-prefix space of the first text token is dropped, as llama2.c
// (run.c decode) and SentencePiece decoding do. Not thread-safe: one per generation stream.
using System.Buffers;
using System.Text;

namespace EdgeLM.Tokenizers;

public sealed class StreamingDecoder
{
    readonly Tokenizer _tokenizer;
    readonly bool _special;
    byte[] _pending = new byte[16];
    int _count;
    bool _atStart;

    internal StreamingDecoder(Tokenizer tokenizer, bool atSequenceStart, bool special)
    {
        _tokenizer = tokenizer;
        _atStart = atSequenceStart;
        _special = special;
    }

    /// <summary>Adds one token; returns the text that is now complete (often empty or one piece).</summary>
    public string Push(int id)
    {
        var piece = _tokenizer.TokenBytes(id, _special);
        if (piece.IsEmpty) return "";
        if (_atStart && _tokenizer.StripsLeadingSpace && piece[0] == (byte)' ' && _tokenizer.GetTokenType(id) != TokenType.Control)
            piece = piece[1..];
        _atStart = false;
        if (_pending.Length < _count + piece.Length) Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _count + piece.Length));
        piece.CopyTo(_pending.AsSpan(_count));
        _count += piece.Length;
        return Drain(final: false);
    }

    /// <summary>Ends the stream: any incomplete bytes left become U+FFFD.</summary>
    public string Flush()
    {
        string s = Drain(final: true);
        _atStart = true;
        return s;
    }

    string Drain(bool final)
    {
        var span = _pending.AsSpan(0, _count);
        // Common case: whole characters only, with at most an incomplete tail; one string, no builder.
        int pos = 0;
        while (pos < span.Length)
        {
            var status = Rune.DecodeFromUtf8(span[pos..], out _, out int consumed);
            if (status != OperationStatus.Done) break;
            pos += consumed;
        }
        string text;
        if (pos == span.Length || (!final && Rune.DecodeFromUtf8(span[pos..], out _, out _) == OperationStatus.NeedMoreData))
            text = Encoding.UTF8.GetString(span[..pos]);
        else
            (text, pos) = DrainWithReplacements(span, final);
        span[pos..].CopyTo(_pending);
        _count -= pos;
        return text;
    }

    static (string Text, int Consumed) DrainWithReplacements(ReadOnlySpan<byte> span, bool final)
    {
        var sb = new StringBuilder();
        int pos = 0;
        while (pos < span.Length)
        {
            var status = Rune.DecodeFromUtf8(span[pos..], out var rune, out int consumed);
            if (status == OperationStatus.NeedMoreData && !final) break; // a valid prefix: wait for the rest
            sb.Append(status == OperationStatus.Done ? rune.ToString() : "\uFFFD");
            pos += consumed;
        }
        return (sb.ToString(), pos);
    }
}
