// Encode and decode. Encode follows llama_vocab::impl::tokenize: split out special tokens
// (control and unknown only when parseSpecial; user-defined always, as Hugging Face does), then
// tokenize each text fragment. SentencePiece fragments get the dummy-prefix space when they start
// the text or follow a special token, then ' ' → '▁'; byte-level fragments are pre-tokenized,
// turned into UTF-8 and mapped to the GPT-2 alphabet. Decode concatenates token bytes and drops the
// dummy-prefix space of the first text token (as SentencePiece and llama2.c decoding do).
using System.Text;

namespace EdgeLM.Tokenizers;

public sealed partial class Tokenizer
{
    readonly record struct Fragment(int Token, int Offset, int Length)
    {
        public bool IsText => Token < 0;
    }

    public int[] Encode(string text, bool addBos = false, bool parseSpecial = false)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text, ids, addBos, parseSpecial);
        return [.. ids];
    }

    /// <summary>
    /// Appends the ids of <paramref name="text"/> to <paramref name="output"/>. <paramref name="addBos"/>
    /// is llama.cpp's add_special: BOS first; WordPiece also closes with [SEP], and Unigram vocabularies
    /// that add EOS (T5) close with EOS.
    /// </summary>
    public void Encode(string text, List<int> output, bool addBos = false, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(output);
        if (addBos && BosId >= 0 && (_ugm is null || AddBos)) output.Add(BosId);
        EncodeText(text, output, parseSpecial);
        if (addBos && _wpm is not null && Data.SepId >= 0) output.Add(Data.SepId);
        if (addBos && _ugm is not null && AddEos && EosId >= 0) output.Add(EosId);
    }

    void EncodeText(string text, List<int> output, bool parseSpecial)
    {
        if (text.Length == 0) return;
        text = ReplaceLoneSurrogates(text);
        bool prevSpecial = true; // SentencePiece: the first fragment gets the dummy prefix
        foreach (var f in Partition(text, parseSpecial))
        {
            if (!f.IsText)
            {
                output.Add(f.Token);
                prevSpecial = true;
                continue;
            }
            var fragment = text.AsSpan(f.Offset, f.Length);
            if (_spm is not null)
            {
                EncodeSentencePiece(fragment, Data.AddSpacePrefix && prevSpecial, output);
                prevSpecial = false;
            }
            else if (_wpm is not null) _wpm.Encode(fragment, output);
            else if (_ugm is not null) _ugm.Encode(fragment, output);
            else EncodeByteLevel(fragment, output);
        }
    }

    /// <summary>A lone surrogate becomes U+FFFD, as UTF-8 encoding of the text would make it.</summary>
    static string ReplaceLoneSurrogates(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
        }
        return text;
    }

    List<Fragment> Partition(string text, bool parseSpecial)
    {
        var frags = new List<Fragment> { new(-1, 0, text.Length) };
        List<Fragment>? next = null;
        foreach (int id in _specials)
        {
            var type = _types[id];
            if (!parseSpecial && type is TokenType.Control or TokenType.Unknown) continue;
            string st = _texts[id];
            if (!text.Contains(st, StringComparison.Ordinal)) continue;
            next ??= [];
            next.Clear();
            foreach (var f in frags)
            {
                if (f.IsText) SplitAt(text, f, id, st, next);
                else next.Add(f);
            }
            (frags, next) = (next, frags);
        }
        return frags;
    }

    // tokenizer_st_partition for one fragment and one special token, with Phi-3's rstrip.
    void SplitAt(string text, Fragment f, int id, string st, List<Fragment> into)
    {
        int off = f.Offset, len = f.Length;
        while (true)
        {
            int match = len >= st.Length ? text.IndexOf(st, off, len, StringComparison.Ordinal) : -1;
            if (match < 0)
            {
                if (len > 0) into.Add(new(-1, off, len));
                return;
            }
            if (match > off) into.Add(new(-1, off, match - off));
            into.Add(new(id, 0, 0));
            int rightOff = match + st.Length;
            int rightLen = off + len - rightOff;
            if (_rstrip[id])
                while (rightLen > 0 && IsCSpace(text[rightOff])) { rightOff++; rightLen--; }
            off = rightOff;
            len = rightLen;
            if (len == 0) return;
        }
    }

    static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    void EncodeSentencePiece(ReadOnlySpan<char> fragment, bool dummyPrefix, List<int> output)
    {
        var s = EncodeScratch.Get();
        int n = fragment.Length + (dummyPrefix ? 1 : 0);
        s.EnsureChars(n);
        var buf = s.Chars.AsSpan(0, n);
        int k = 0;
        if (dummyPrefix) buf[k++] = '\u2581';
        foreach (char c in fragment) buf[k++] = c == ' ' ? '\u2581' : c;
        _spm!.Encode(buf, output);
    }

    void EncodeByteLevel(ReadOnlySpan<char> fragment, List<int> output)
    {
        var s = EncodeScratch.Get();
        s.EnsureCps(fragment.Length);
        int n = 0;
        foreach (var rune in fragment.EnumerateRunes()) s.Cps[n++] = rune.Value;
        var cps = s.Cps.AsSpan(0, n);
        // The splitter may reuse scratch lists; copy the lengths out of the shared scratch first.
        _pre!.Split(cps, s.Pieces, s.PiecesScratch);
        int pos = 0;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (int len in s.Pieces)
        {
            s.EnsureChars(len * 4);
            int k = 0;
            for (int i = pos; i < pos + len; i++)
            {
                int nb = new Rune(cps[i]).EncodeToUtf8(utf8);
                for (int j = 0; j < nb; j++) s.Chars[k++] = Gpt2Bytes.ByteToChar[utf8[j]];
            }
            _bpe!.Encode(s.Chars.AsSpan(0, k), output);
            pos += len;
        }
    }

    // ---- decoding -------------------------------------------------------------------------------

    /// <summary>
    /// The bytes a token stands for: byte tokens their byte, '▁' a space, the GPT-2 alphabet undone.
    /// Control tokens give their text only when <paramref name="special"/> is true.
    /// </summary>
    public ReadOnlySpan<byte> TokenBytes(int id, bool special = false) =>
        special && _specialPieces.TryGetValue(CheckId(id), out var sp) ? sp
            : _pieceData.AsSpan(_pieceStart[CheckId(id)], _pieceStart[id + 1] - _pieceStart[id]);

    /// <summary>True when the first text after the start of a sequence loses its leading space.</summary>
    internal bool StripsLeadingSpace => Data.Model == "bert" || (Data.UsesMetaspace && Data.AddSpacePrefix);

    /// <summary>Decodes ids to text; invalid UTF-8 becomes U+FFFD. Control and unknown tokens show unless skipped.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecial = false) => Encoding.UTF8.GetString(DecodeToUtf8(ids, skipSpecial));

    /// <summary>
    /// The exact bytes the ids stand for (as llama.cpp's detokenize gives them; byte tokens may leave
    /// incomplete UTF-8). Control and unknown tokens show unless skipped.
    /// </summary>
    public byte[] DecodeToUtf8(IEnumerable<int> ids, bool skipSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new System.Buffers.ArrayBufferWriter<byte>();
        bool atStart = true;
        foreach (int id in ids)
        {
            if (skipSpecial && _types[CheckId(id)] is TokenType.Control or TokenType.Unknown) continue;
            var piece = TokenBytes(id, special: !skipSpecial);
            if (piece.IsEmpty) continue;
            if (atStart && StripsLeadingSpace && piece[0] == (byte)' ' && _types[id] != TokenType.Control) piece = piece[1..];
            atStart = false;
            piece.CopyTo(bytes.GetSpan(piece.Length));
            bytes.Advance(piece.Length);
        }
        return bytes.WrittenSpan.ToArray();
    }

    /// <summary>A decoder fed one id at a time that returns only complete characters.</summary>
    public StreamingDecoder CreateStreamingDecoder(bool atSequenceStart = true, bool special = false) =>
        new(this, atSequenceStart, special);
}
