// Tensor element types with the numbers GGUF writes on disk (ggml.h, enum ggml_type), and their
// block geometry. A quantized row of n elements is n / BlockSize blocks of TypeSize bytes each.
namespace EdgeLM.Tensors;

public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    BF16 = 30,
}

/// <summary>One row of the traits table: how many elements a block holds and how many bytes it takes.</summary>
public readonly record struct GgmlTypeInfo(GgmlType Type, string Name, int BlockSize, int TypeSize, bool IsQuantized);

public static class GgmlTypes
{
    /// <summary>Super-block size of the K-quants (QK_K in ggml).</summary>
    public const int QK_K = 256;

    static readonly GgmlTypeInfo[] Table =
    [
        new(GgmlType.F32, "F32", 1, 4, false),
        new(GgmlType.F16, "F16", 1, 2, false),
        new(GgmlType.BF16, "BF16", 1, 2, false),
        new(GgmlType.Q4_0, "Q4_0", 32, 2 + 16, true),
        new(GgmlType.Q4_1, "Q4_1", 32, 2 + 2 + 16, true),
        new(GgmlType.Q5_0, "Q5_0", 32, 2 + 4 + 16, true),
        new(GgmlType.Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, true),
        new(GgmlType.Q8_0, "Q8_0", 32, 2 + 32, true),
        new(GgmlType.Q8_1, "Q8_1", 32, 2 + 2 + 32, true),
        new(GgmlType.Q2_K, "Q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 + 2, true),
        new(GgmlType.Q3_K, "Q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + 2, true),
        new(GgmlType.Q4_K, "Q4_K", QK_K, 2 + 2 + 12 + QK_K / 2, true),
        new(GgmlType.Q5_K, "Q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2, true),
        new(GgmlType.Q6_K, "Q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, true),
        new(GgmlType.Q8_K, "Q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2, true),
    ];

    /// <summary>True for the types this engine reads and writes.</summary>
    public static bool IsKnown(GgmlType type) => Array.FindIndex(Table, t => t.Type == type) >= 0;

    public static GgmlTypeInfo Info(GgmlType type)
    {
        foreach (var t in Table)
            if (t.Type == type) return t;
        throw new ArgumentOutOfRangeException(nameof(type), $"unknown tensor type {(uint)type}");
    }

    public static bool TryParse(string name, out GgmlType type)
    {
        foreach (var t in Table)
        {
            if (string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                type = t.Type;
                return true;
            }
        }
        type = default;
        return false;
    }

    /// <summary>Names of the types a model may be converted to.</summary>
    public static IEnumerable<string> StorageTypeNames =>
        Table.Where(t => t.Type is not (GgmlType.Q8_1 or GgmlType.Q8_K)).Select(t => t.Name);

    /// <summary>Bytes of one row of <paramref name="n"/> elements; n must be a multiple of the block size.</summary>
    public static long RowBytes(GgmlType type, long n)
    {
        var info = Info(type);
        return n / info.BlockSize * info.TypeSize;
    }
}
