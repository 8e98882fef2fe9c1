// Chinese-aware training. Two tools, measured in docs/TOKENIZER-TRAINING.md: Reweight (the one
// --chinese-aware uses) multiplies the counts of pre-tokens holding Han characters, so pair
// frequency is counted per UTF-8 byte of text rather than per symbol (a Han character is three
// bytes; a Latin letter one) and Chinese gets a larger share of the merges. Resegment (measured
// worse, kept for comparison): each pre-token holding Han characters is cut into words
// found statistically in the training text itself. The statistics are character and adjacent-pair
// counts over all Han runs (weighted by how often the pre-token occurs); a run is cut between two
// characters when their pointwise mutual information, log(P(ab) / (P(a) P(b))), is below
// Threshold, or the pair was seen fewer than MinPairCount times. Non-Han text before or after a
// run (the punctuation or space the pre-tokenizer attaches) becomes its own piece. BPE then learns
// merges inside words only, instead of spending vocabulary on chance neighbours such as "，不".
// Encoding is unchanged (the file's pre-tokenizer runs as usual); only the merges differ.
using System.Text;

namespace EdgeLM.Tokenizers.Training;

public static class CjkSegmenter
{
    /// <summary>PMI (natural log) under which two neighbours are cut apart; 0 = no more often than chance.</summary>
    public const double Threshold = 1.0;

    /// <summary>Pairs seen fewer times than this are never kept together (too rare to judge).</summary>
    public const long MinPairCount = 3;

    /// <summary>The counts with every Han-bearing pre-token's count multiplied by <paramref name="hanWeight"/>.</summary>
    public static Dictionary<string, long> Reweight(Dictionary<string, long> counts, double hanWeight)
    {
        if (!(hanWeight > 0) || double.IsInfinity(hanWeight)) throw new ArgumentOutOfRangeException(nameof(hanWeight), hanWeight, "the Han weight must be a positive number");
        if (hanWeight == 1) return counts;
        var result = new Dictionary<string, long>(counts.Count, StringComparer.Ordinal);
        foreach (var (piece, c) in counts)
        {
            bool han = false;
            foreach (var r in piece.EnumerateRunes()) han |= IsHan(r.Value);
            result[piece] = han ? Math.Max(1, (long)Math.Round(c * hanWeight, MidpointRounding.AwayFromZero)) : c;
        }
        return result;
    }

    public static bool IsHan(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0xF900 and <= 0xFAFF or >= 0x20000 and <= 0x2FFFF;

    /// <summary>The counts with every Han-bearing pre-token replaced by its word segmentation.</summary>
    public static Dictionary<string, long> Resegment(Dictionary<string, long> counts)
    {
        var uni = new Dictionary<int, long>();
        var bi = new Dictionary<long, long>();
        long total = 0;
        foreach (var (piece, c) in counts)
        {
            int prev = -1;
            foreach (var r in piece.EnumerateRunes())
            {
                int cp = r.Value;
                if (!IsHan(cp)) { prev = -1; continue; }
                uni[cp] = uni.GetValueOrDefault(cp) + c;
                total += c;
                if (prev >= 0) { long k = ((long)prev << 32) | (uint)cp; bi[k] = bi.GetValueOrDefault(k) + c; }
                prev = cp;
            }
        }
        if (total == 0) return counts;
        var result = new Dictionary<string, long>(counts.Count, StringComparer.Ordinal);
        var parts = new List<string>();
        foreach (var (piece, c) in counts)
        {
            parts.Clear();
            SegmentPiece(piece, uni, bi, total, parts);
            foreach (string p in parts) result[p] = result.GetValueOrDefault(p) + c;
        }
        return result;
    }

    static void SegmentPiece(string piece, Dictionary<int, long> uni, Dictionary<long, long> bi, long total, List<string> into)
    {
        var sb = new StringBuilder();
        int prev = -1;
        bool prevHan = false;
        foreach (var r in piece.EnumerateRunes())
        {
            int cp = r.Value;
            bool han = IsHan(cp);
            bool cut = sb.Length > 0 && (han != prevHan || (han && !Together(prev, cp, uni, bi, total)));
            if (cut) { into.Add(sb.ToString()); sb.Clear(); }
            sb.Append(r.ToString());
            prev = cp;
            prevHan = han;
        }
        if (sb.Length > 0) into.Add(sb.ToString());
    }

    static bool Together(int a, int b, Dictionary<int, long> uni, Dictionary<long, long> bi, long total)
    {
        long ab = bi.GetValueOrDefault(((long)a << 32) | (uint)b);
        if (ab < MinPairCount) return false;
        double pmi = Math.Log((double)ab * total / ((double)uni[a] * uni[b]));
        return pmi >= Threshold;
    }
}
