// Byte-level BPE training (Sennrich et al. 2016; GPT-2's byte alphabet, as Hugging Face's
// BpeTrainer does it): every distinct pre-token becomes a sequence of byte symbols weighted by its
// count; the most frequent adjacent pair is merged into a new symbol until the vocabulary is full
// or the best pair is rarer than MinFrequency. Pair counts are updated incrementally: an index maps
// each pair to the words that contain it, so a merge touches only those words, and a max-heap with
// lazy deletion (a popped entry whose count is stale is pushed back with the true count) finds the
// next pair. Ties go to the pair whose symbols were created first (lowest left id, then right id).
// Vocabulary layout: special tokens 0..s-1 (control), the 256 bytes s..s+255 in byte order, then
// merges in the order learned. Not the corpus reader (TrainingCorpus) nor the writer (TokenizerFiles).
using System.Text;

namespace EdgeLM.Tokenizers.Training;

public static class BpeTrainer
{
    /// <summary>Reads, pre-tokenizes, counts and learns merges; the result encodes with <c>new Tokenizer(data)</c>.</summary>
    public static TokenizerData Train(List<string> docs, BpeTrainerOptions options,
        IProgress<(int Done, int Total)>? countProgress = null, IProgress<(int Done, int Total)>? mergeProgress = null,
        CancellationToken cancel = default)
    {
        string pre = BpeTrainerOptions.NormalizePre(options.Pre);
        var counts = WordCounter.Count(docs, pre, options.SpecialTokens, options.Threads, countProgress, cancel);
        if (options.ChineseSegmentation) counts = CjkSegmenter.Resegment(counts);
        if (options.ChineseAware) counts = CjkSegmenter.Reweight(counts, options.HanWeight);
        return TrainOnCounts(counts, options with { Pre = pre }, mergeProgress, cancel);
    }

    /// <summary>Learns merges from pre-token counts (plain text keys).</summary>
    public static TokenizerData TrainOnCounts(Dictionary<string, long> counts, BpeTrainerOptions options,
        IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default)
    {
        var specials = options.SpecialTokens;
        if (specials.Distinct(StringComparer.Ordinal).Count() != specials.Count || specials.Any(string.IsNullOrEmpty))
            throw new ArgumentException("special tokens must be distinct and non-empty");
        int maxMerges = options.VocabSize - specials.Count - 256;
        if (maxMerges < 0)
            throw new ArgumentException($"vocabulary size {options.VocabSize} is smaller than the 256 byte tokens plus {specials.Count} special tokens");

        var state = new MergeState(counts, options.AlignToCharacters, options.ChineseAware ? options.CharacterBonus : 1);
        var merges = state.Learn(maxMerges, Math.Max(1, options.MinFrequency), progress, cancel);
        return Build(state.Texts, merges, options);
    }

    static TokenizerData Build(List<string> symbolTexts, List<(int A, int B)> merges, BpeTrainerOptions options)
    {
        var specials = options.SpecialTokens;
        int s = specials.Count;
        var tokens = new string[s + symbolTexts.Count];
        var types = new TokenType[tokens.Length];
        for (int i = 0; i < s; i++) { tokens[i] = specials[i]; types[i] = TokenType.Control; }
        for (int i = 0; i < symbolTexts.Count; i++) { tokens[s + i] = symbolTexts[i]; types[s + i] = TokenType.Normal; }
        var mergeTexts = new string[merges.Count];
        for (int i = 0; i < merges.Count; i++) mergeTexts[i] = symbolTexts[merges[i].A] + " " + symbolTexts[merges[i].B];
        int eos = FirstOf(specials, "<|endoftext|>", "<|im_end|>", "</s>", "<|end_of_text|>");
        if (eos < 0 && s > 0) eos = 0;
        return new TokenizerData
        {
            Model = "gpt2",
            Pre = options.Pre,
            Tokens = tokens,
            Types = types,
            Merges = mergeTexts,
            BosId = eos, // GPT-2 style: one end-of-text token serves both; BOS is not added
            EosId = eos,
        };
    }

    static int FirstOf(IReadOnlyList<string> specials, params string[] names)
    {
        foreach (string n in names)
            for (int i = 0; i < specials.Count; i++)
                if (specials[i] == n) return i;
        return -1;
    }

    /// <summary>The GPT-2 alphabet form of a text's UTF-8 bytes.</summary>
    public static string ToByteAlphabet(string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var chars = new char[utf8.Length];
        for (int i = 0; i < utf8.Length; i++) chars[i] = Gpt2Bytes.ByteToChar[utf8[i]];
        return new string(chars);
    }
}
