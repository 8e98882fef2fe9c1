// The one place that says which weight types have a decode layout built at load (sixteen-row groups,
// rows in SIMD lanes; see Q4_0Repack's header for the idea) and routes to each type's kernel. A type
// joins by an arm in each switch below: whether it can be repacked on this CPU for a row length, the
// size of its layout, building it, the decode product over it, and giving the file's rows back
// (UnpackRows: a prompt's several activations go through QuantKernels.MatMulRows over those rows, not
// through a kernel here). Not the embedding lookup, which reads the mapped rows.
// Also the pieces every layout shares: the group count, the column panels of long rows, the masked store
// (and load) of a group's outputs and the exact widening of sixteen (eight) finite fp16 scales.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeLM.Tensors;

namespace EdgeLM.Quantization;

internal static unsafe class DecodeRepack
{
    /// <summary>Rows per group of every repacked layout (one row per int32 lane of a 512-bit register);
    /// a decode product splits its work by whole groups.</summary>
    public const int GroupRows = 16;

    /// <summary>Whether a matrix of this type and row length gets a repacked layout on this CPU.</summary>
    public static bool CanRepack(GgmlType type, int cols) => type switch
    {
        GgmlType.Q4_0 => Q4_0Repack.Supported && cols % 32 == 0,
        GgmlType.F16 => F16Repack.Supported && F16Repack.Fits(cols),
        GgmlType.Q8_0 => Q8_0Repack.Supported && cols % 32 == 0,
        GgmlType.Q5_0 => Q5_0Repack.Supported && cols % 32 == 0,
        GgmlType.Q4_K => Q4_KRepack.Supported && cols % 256 == 0,
        GgmlType.Q6_K => Q6_KRepack.Supported && cols % 256 == 0,
        _ => false,
    };

    /// <summary>Columns per panel: a block-quantized matrix with longer rows is laid out as column panels of
    /// this many (the last one shorter), each panel a layout of its own for all rows, one after the other.
    /// The product runs panel by panel, each continuing the dots of the one before, so the activation
    /// slice (with what a kernel prepares from it) stays in L1 while the panel streams past: over whole
    /// 8,192-element rows the Q8_0 kernel's prepared activation alone is 18 KB of the 32 KB L1, and long rows
    /// read 10-15% slower from memory than 2,048-element ones (Q6_K 16384 x 8192, one thread, huge pages:
    /// 0.89-0.93 of a plain read against 1.03-1.04 for the same bytes as 65536 x 2048). Not F16 (F16Repack
    /// walks its own rows).</summary>
    public const int PanelCols = 2048;

    /// <summary>Columns per panel for this type (all of them for F16); the panel at column c0 is
    /// Math.Min(step, cols - c0) wide. Plain loops over it, not an iterator: the product runs per token.</summary>
    static int PanelStep(GgmlType type, int cols) => type == GgmlType.F16 ? Math.Max(cols, 1) : PanelCols;

    /// <summary>Bytes of the layout of rows x cols weights of this type.</summary>
    public static long Size(GgmlType type, int rows, int cols)
    {
        long size = 0;
        for (int c0 = 0, step = PanelStep(type, cols); c0 < cols; c0 += step) size += PanelSize(type, rows, Math.Min(step, cols - c0));
        return size;
    }

    static long PanelSize(GgmlType type, int rows, int cols) => type switch
    {
        GgmlType.Q4_0 => Q4_0Repack.Size(rows, cols),
        GgmlType.F16 => F16Repack.Size(rows, cols),
        GgmlType.Q8_0 => Q8_0Repack.Size(rows, cols),
        GgmlType.Q5_0 => Q5_0Repack.Size(rows, cols),
        GgmlType.Q4_K => Q4_KRepack.Size(rows, cols),
        GgmlType.Q6_K => Q6_KRepack.Size(rows, cols),
        _ => throw Unsupported(type),
    };

    /// <summary>The layout of rows x cols weights (row r at w + r * rowBytes) in 64-byte aligned native
    /// memory (free it with <see cref="Free"/>), or null when this matrix keeps the mapped path (a value
    /// the fast kernel would not reproduce, such as an infinite scale).</summary>
    public static byte* Create(GgmlType type, byte* w, long rowBytes, int rows, int cols)
    {
        CheckSupported(type);
        byte* dst = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)Size(type, rows, cols), 64);
        if (Pack(type, w, rowBytes, rows, cols, dst)) return dst;
        Free(dst);
        return null;
    }

    public static void Free(byte* packed) => System.Runtime.InteropServices.NativeMemory.AlignedFree(packed);

    /// <summary>Writes the layout of rows x cols weights of this type (row r at w + r * rowBytes) into dst
    /// (<see cref="Size"/> bytes, 64-byte aligned, owned by the caller); false, dst then partly written, when this
    /// matrix keeps the mapped path (see <see cref="Create"/>).</summary>
    public static bool Pack(GgmlType type, byte* w, long rowBytes, int rows, int cols, byte* dst)
    {
        CheckSupported(type);
        for (int c0 = 0, step = PanelStep(type, cols); c0 < cols; c0 += step)
        {
            int width = Math.Min(step, cols - c0);
            byte* src = w + GgmlTypes.RowBytes(type, c0);
            bool packed = type switch
            {
                GgmlType.Q4_0 => Q4_0Repack.Pack(src, rowBytes, rows, width, dst),
                GgmlType.F16 => F16Repack.Pack(src, rowBytes, rows, width, dst),
                GgmlType.Q8_0 => Q8_0Repack.Pack(src, rowBytes, rows, width, dst),
                GgmlType.Q5_0 => Q5_0Repack.Pack(src, rowBytes, rows, width, dst),
                GgmlType.Q4_K => Q4_KRepack.Pack(src, rowBytes, rows, width, dst),
                GgmlType.Q6_K => Q6_KRepack.Pack(src, rowBytes, rows, width, dst),
                _ => throw Unsupported(type),
            };
            if (!packed) return false;
            dst += PanelSize(type, rows, width);
        }
        return true;
    }

    /// <summary>Rows [start, end) of a rows x cols matrix in this type's layout back in the file's layout, row r at
    /// dst + (r - start) * GgmlTypes.RowBytes(type, cols): Pack's inverse, byte for byte, so a prompt product over
    /// them gives what it gives over the file's rows. start is a multiple of <see cref="GroupRows"/>.</summary>
    public static void UnpackRows(GgmlType type, byte* packed, int rows, int cols, int start, int end, byte* dst)
    {
        if (start % GroupRows != 0 || start < 0 || end > rows || start > end)
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {end}) of {rows}: start must be a multiple of {GroupRows}");
        long rb = GgmlTypes.RowBytes(type, cols);
        for (int c0 = 0, step = PanelStep(type, cols); c0 < cols; c0 += step)
        {
            int width = Math.Min(step, cols - c0), nb = width / GgmlTypes.Info(type).BlockSize;
            long groupBytes = PanelSize(type, GroupRows, width);
            for (int r = start; r < end; r += GroupRows)
            {
                byte* group = packed + r / GroupRows * groupBytes, to = dst + (r - start) * rb + GgmlTypes.RowBytes(type, c0);
                int count = Math.Min(GroupRows, end - r);
                switch (type)
                {
                    case GgmlType.Q4_0: Q4_0Repack.Unpack(group, nb, count, to, rb); break;
                    case GgmlType.Q5_0: Q5_0Repack.Unpack(group, nb, count, to, rb); break;
                    case GgmlType.Q8_0: Q8_0Repack.Unpack(group, nb, count, to, rb); break;
                    case GgmlType.Q4_K: Q4_KRepack.Unpack(group, nb, count, to, rb); break;
                    case GgmlType.F16: F16Repack.Unpack(group, nb, count, to, rb); break;
                    case GgmlType.Q6_K: Q6_KRepack.Unpack(group, nb, count, to, rb); break;
                    default: throw Unsupported(type);
                }
            }
            packed += PanelSize(type, rows, width);
        }
    }

    /// <summary>Unpack's walk over the layouts of 32-element blocks (Q4_0, Q5_0, Q8_0): per pair of blocks the
    /// sixteen rows' fp16 scales of both (64 bytes), then each block's quantBytes of lane-interleaved quants; lane r
    /// of each block goes to the row at dst + r * rb, its scale first and its quants by T.</summary>
    internal static void UnpackPairs<T>(byte* group, int nb, int count, byte* dst, long rb, int blockBytes, int quantBytes)
        where T : IBlockQuants
    {
        for (int b = 0; b < nb; b += 2, group += 64 + 2 * quantBytes)
            for (int k = 0; k < 2 && b + k < nb; k++)
            {
                ushort* d = (ushort*)group + GroupRows * k;
                uint* q = (uint*)(group + 64 + quantBytes * k);
                for (int r = 0; r < count; r++)
                {
                    byte* block = dst + r * rb + (long)(b + k) * blockBytes;
                    *(ushort*)block = d[r];
                    T.Unpack(q + r, block);
                }
            }
    }

    /// <summary>Groups of sixteen rows (the last one padded by repeating the last row).</summary>
    public static int Groups(int rows) => (rows + GroupRows - 1) / GroupRows;

    /// <summary>Lanes of f for rows row0.. that fall in [start, end), stored at y[row - start].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> f, int row0, int start, int end, float* y) =>
        // Masked-off lanes are not accessed, so the base may lie before y when the range starts inside a group.
        Avx512F.MaskStore(y + (row0 - start), InRange(row0, start, end), f);

    /// <summary>The values Store would write for rows row0.. in [start, end) read back (other lanes zero), for a
    /// product that continues from them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(int row0, int start, int end, float* y) =>
        Avx512F.MaskLoad(y + (row0 - start), InRange(row0, start, end), Vector512<float>.Zero);

    /// <summary>Load for eight rows at 256 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(int row0, int start, int end, float* y) =>
        Avx.MaskLoad(y + (row0 - start), InRange256(row0, start, end));

    /// <summary>Store for eight rows at 256 bits (masked-off lanes are not accessed either).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store256(Vector256<float> f, int row0, int start, int end, float* y) =>
        Avx.MaskStore(y + (row0 - start), InRange256(row0, start, end), f);

    /// <summary>All ones in the lanes of rows row0.. that fall in [start, end): Store's and Load's mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> InRange(int row0, int start, int end)
    {
        var lane = Vector512<int>.Indices + Vector512.Create(row0);
        return (Vector512.GreaterThanOrEqual(lane, Vector512.Create(start)) & Vector512.LessThan(lane, Vector512.Create(end))).AsSingle();
    }

    /// <summary>InRange for eight rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> InRange256(int row0, int start, int end)
    {
        var lane = Vector256<int>.Indices + Vector256.Create(row0);
        return (Vector256.GreaterThanOrEqual(lane, Vector256.Create(start)) & Vector256.LessThan(lane, Vector256.Create(end))).AsSingle();
    }

    /// <summary>Sixteen finite fp16 scales as floats, exactly (QuantMath.FiniteHalfToFloat: cheaper than the general
    /// widening because a matrix with an infinite or NaN scale is never repacked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Scales(byte* s) => QuantMath.FiniteHalfToFloat((ushort*)s);

    /// <summary>Eight finite fp16 scales as floats, exactly (see Scales).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Scales256(byte* s)
    {
        var bits = Avx2.ConvertToVector256Int32((short*)s) << 13;
        return (bits & Vector256.Create(unchecked((int)0x8FFFFFFF))).AsSingle() * Vector256.Create(5.192297e33f); // 2^112
    }

    /// <summary>y[r - start] = dot(W[r], x) for r in [start, end), W (rows x cols) in this type's layout, x one
    /// activation row in the type's vec-dot type (QuantKernels.VecDotType). Outputs outside [start, end) are not touched.</summary>
    public static void Rows(GgmlType type, byte* packed, int rows, int cols, int start, int end, byte* x, float* y) =>
        Rows(type, packed, rows, cols, start, end, x, y, Avx512BW.IsSupported ? SimdLevel.Vector512 : SimdLevel.Vector256);

    /// <summary>The same at a given width of the block-quantized kernels (Vector512 or Vector256; for tests).</summary>
    internal static void Rows(GgmlType type, byte* packed, int rows, int cols, int start, int end, byte* x, float* y, SimdLevel level)
    {
        if (type == GgmlType.F16)
        {
            F16Repack.Rows(packed, cols, start, end, x, y);
            return;
        }
        var activation = QuantKernels.VecDotType(type);
        for (int c0 = 0; c0 < cols; c0 += PanelCols)
        {
            int width = Math.Min(PanelCols, cols - c0);
            byte* xs = x + GgmlTypes.RowBytes(activation, c0);
            bool carry = c0 > 0;
            switch (type)
            {
                case GgmlType.Q4_0: Q4_0Repack.Rows(packed, width, start, end, xs, y, level, carry); break;
                case GgmlType.Q8_0: Q8_0Repack.Rows(packed, width, start, end, xs, y, level, carry); break;
                case GgmlType.Q5_0: Q5_0Repack.Rows(packed, width, start, end, xs, y, level, carry); break;
                case GgmlType.Q4_K: Q4_KRepack.Rows(packed, width, start, end, xs, y, level, carry); break;
                case GgmlType.Q6_K: Q6_KRepack.Rows(packed, width, start, end, xs, y, level, carry); break;
                default: throw Unsupported(type);
            }
            packed += PanelSize(type, rows, width);
        }
    }

    /// <summary>Throws unless this CPU has the type's layout (for any row length: CanRepack adds the rules for which
    /// matrices the engine repacks).</summary>
    static void CheckSupported(GgmlType type)
    {
        bool supported = type switch
        {
            GgmlType.Q4_0 => Q4_0Repack.Supported,
            GgmlType.F16 => F16Repack.Supported,
            GgmlType.Q8_0 => Q8_0Repack.Supported,
            GgmlType.Q5_0 => Q5_0Repack.Supported,
            GgmlType.Q4_K => Q4_KRepack.Supported,
            GgmlType.Q6_K => Q6_KRepack.Supported,
            _ => throw Unsupported(type),
        };
        if (!supported)
            throw new PlatformNotSupportedException($"{type} repacking needs {(type == GgmlType.F16 ? "AVX-512 BW" : "AVX-512 BW or AVX2 + FMA")}");
    }

    static NotSupportedException Unsupported(GgmlType type) => new($"no repacked decode layout for {type}");
}

/// <summary>One 32-element block's quants from a repacked group back into the file's block (after its scale).</summary>
internal unsafe interface IBlockQuants
{
    /// <summary>lane: the row's first quant dword (its others 16 dwords apart); block: the file's block.</summary>
    static abstract void Unpack(uint* lane, byte* block);
}
