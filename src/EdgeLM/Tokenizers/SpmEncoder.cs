// SentencePiece BPE as llama.cpp's llm_tokenizer_spm_session: split the (▁-escaped) text into
// characters, repeatedly merge the adjacent pair whose concatenation is the best-scoring token, then
// emit each symbol's token or, for text with no token, its UTF-8 bytes as <0xHH> byte tokens (unk
// when the vocabulary has none). A queued pair is stale when either side has changed length, the
// same test llama.cpp makes. Allocation-free per symbol: scratch arrays and the heap are reused.
using System.Text;

namespace EdgeLM.Tokenizers;

internal sealed class SpmEncoder(Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> ids, float[] scores, int[] byteTokens)
{
    public void Encode(ReadOnlySpan<char> text, List<int> output)
    {
        if (text.IsEmpty) return;
        var s = EncodeScratch.Get();
        s.EnsureSymbols(text.Length);
        int[] start = s.Start, len = s.Len, prev = s.Prev, next = s.Next;
        int n = 0;
        for (int i = 0; i < text.Length; n++)
        {
            int l = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            start[n] = i;
            len[n] = l;
            prev[n] = n - 1;
            i += l;
            next[n] = i == text.Length ? -1 : n + 1;
        }
        var heap = s.Heap;
        heap.Reset(byScore: true);
        for (int i = 1; i < n; i++) TryAdd(text, s, i - 1, i);

        while (heap.Count > 0)
        {
            var b = heap.Pop();
            int l = b.Left, r = b.Right;
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.LeftLen) continue;
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            TryAdd(text, s, prev[l], l);
            TryAdd(text, s, l, next[l]);
        }

        for (int i = 0; i != -1; i = next[i])
            Emit(text.Slice(start[i], len[i]), output);
    }

    void TryAdd(ReadOnlySpan<char> text, EncodeScratch s, int left, int right)
    {
        if (left < 0 || right < 0) return;
        int size = s.Len[left] + s.Len[right];
        if (!ids.TryGetValue(text.Slice(s.Start[left], size), out int id)) return;
        // LeftLen carries the merged size: the stale test compares it with the two current lengths.
        s.Heap.Push(new Bigram { Left = left, Right = right, Score = scores[id], LeftLen = size });
    }

    void Emit(ReadOnlySpan<char> symbol, List<int> output)
    {
        if (ids.TryGetValue(symbol, out int id))
        {
            output.Add(id);
            return;
        }
        Span<byte> utf8 = stackalloc byte[8];
        int nb = Encoding.UTF8.GetBytes(symbol, utf8);
        for (int j = 0; j < nb; j++) output.Add(byteTokens[utf8[j]]);
    }
}
