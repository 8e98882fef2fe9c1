// An array-backed binary heap of merge candidates, reused across calls so the merge loops of both
// BPE flavours allocate nothing per token. Order: SentencePiece pops the highest score first,
// byte-level BPE the lowest rank first; ties go to the leftmost pair (llama.cpp's comparators).
namespace EdgeLM.Tokenizers;

internal struct Bigram
{
    public int Left, Right;
    public float Score;   // SentencePiece: the merged token's score (higher first)
    public int Rank;      // byte-level BPE: merge rank (lower first)
    public int LeftLen, RightLen;
}

internal sealed class MergeHeap
{
    Bigram[] _items = new Bigram[64];
    bool _byScore;

    public int Count { get; private set; }

    public void Reset(bool byScore)
    {
        Count = 0;
        _byScore = byScore;
    }

    // True when a should pop before b.
    bool Before(in Bigram a, in Bigram b) => _byScore
        ? a.Score > b.Score || (a.Score == b.Score && a.Left < b.Left)
        : a.Rank < b.Rank || (a.Rank == b.Rank && a.Left < b.Left);

    public void Push(in Bigram item)
    {
        if (Count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
        int i = Count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (!Before(item, _items[parent])) break;
            _items[i] = _items[parent];
            i = parent;
        }
        _items[i] = item;
    }

    public Bigram Pop()
    {
        var top = _items[0];
        var last = _items[--Count];
        int i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= Count) break;
            if (child + 1 < Count && Before(_items[child + 1], _items[child])) child++;
            if (!Before(_items[child], last)) break;
            _items[i] = _items[child];
            i = child;
        }
        if (Count > 0) _items[i] = last;
        return top;
    }
}

/// <summary>Per-thread scratch for encoding: symbol lists, the heap, pre-token lengths.</summary>
internal sealed class EncodeScratch
{
    [ThreadStatic] static EncodeScratch? t_instance;

    public static EncodeScratch Get() => t_instance ??= new EncodeScratch();

    public readonly MergeHeap Heap = new();
    public int[] Start = new int[64], Len = new int[64], Prev = new int[64], Next = new int[64], Id = new int[64];
    public char[] Chars = new char[256];
    public int[] Cps = new int[256];
    public readonly List<int> Pieces = [], PiecesScratch = [];

    public void EnsureSymbols(int n)
    {
        if (Start.Length >= n) return;
        int size = Math.Max(n, Start.Length * 2);
        Start = new int[size]; Len = new int[size]; Prev = new int[size]; Next = new int[size]; Id = new int[size];
    }

    public void EnsureChars(int n)
    {
        if (Chars.Length < n) Chars = new char[Math.Max(n, Chars.Length * 2)];
    }

    public void EnsureCps(int n)
    {
        if (Cps.Length < n) Cps = new int[Math.Max(n, Cps.Length * 2)];
    }
}
