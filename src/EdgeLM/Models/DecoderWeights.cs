// The weights of a llama-style decoder, looked up by GGUF name and checked against the config:
// every shape is validated here, once, so the forward pass can trust it. Matrices stay in the
// mapped file; the small vectors (norms, biases) are dequantized into float arrays. On request, after
// every check has passed, the matrices DecodeRepack has a layout for also get a repacked copy for decode
// (WeightMatrix.Repack), and the other matrices the products read are read into private memory
// (WeightMatrix.ReadIntoMemory); both are freed by FreeCopies (the model's Dispose).
using EdgeLM.Formats;
using EdgeLM.Quantization;

namespace EdgeLM.Models;

public sealed class LayerWeights
{
    public required float[] AttnNorm { get; init; }
    public required WeightMatrix AttnQ { get; init; }
    public required WeightMatrix AttnK { get; init; }
    public required WeightMatrix AttnV { get; init; }
    public required WeightMatrix AttnOutput { get; init; }
    public float[]? AttnQBias { get; init; }
    public float[]? AttnKBias { get; init; }
    public float[]? AttnVBias { get; init; }
    public float[]? AttnQNorm { get; init; }
    public float[]? AttnKNorm { get; init; }
    public required float[] FfnNorm { get; init; }
    public required WeightMatrix FfnGate { get; init; }
    public required WeightMatrix FfnUp { get; init; }
    public required WeightMatrix FfnDown { get; init; }
}

public sealed unsafe class DecoderWeights
{
    public required WeightMatrix TokenEmbd { get; init; }
    public required float[] OutputNorm { get; init; }
    /// <summary>The output head; the embedding itself when tied.</summary>
    public required WeightMatrix Output { get; init; }
    public bool TiedOutput => ReferenceEquals(Output, TokenEmbd);
    public float[]? RopeFreqs { get; init; }
    public required LayerWeights[] Layers { get; init; }

    /// <summary>What a layer of this architecture must or may have beyond the llama core.</summary>
    public sealed record Options(bool QkvBias, bool QkNorm);

    /// <summary>Every matrix once (the tied output head is the embedding).</summary>
    public IEnumerable<WeightMatrix> Matrices()
    {
        yield return TokenEmbd;
        foreach (var L in Layers)
        {
            yield return L.AttnQ; yield return L.AttnK; yield return L.AttnV; yield return L.AttnOutput;
            yield return L.FfnGate; yield return L.FfnUp; yield return L.FfnDown;
        }
        if (!TiedOutput) yield return Output;
    }

    /// <summary>Bytes of native memory the repacked copies hold.</summary>
    public long RepackedBytes => Matrices().Sum(m => m.RepackedBytes);

    /// <summary>Bytes of native memory the matrices read into memory hold (same layout as the file).</summary>
    public long InMemoryBytes => Matrices().Sum(m => m.InMemoryBytes);

    /// <summary>Frees every repacked copy and every matrix read into memory (the model's Dispose).</summary>
    internal void FreeCopies()
    {
        foreach (var m in Matrices())
        {
            m.DropRepacked();
            m.DropInMemory();
        }
        _arena?.Dispose();
        _arena = null;
    }

    WeightArena? _arena;

    /// <summary>Whether the copies' memory was advised for huge pages (Linux; see WeightArena).</summary>
    public bool HugePages => _arena?.HugePagesAdvised ?? false;

    /// <summary>Whether repacking was asked for but left out because the copies would not fit (see
    /// <see cref="FitsInMemory"/>): the model then runs from the mapped weights.</summary>
    public bool RepackSkipped { get; private set; }

    /// <summary>The matrices the products read: all but an untied embedding, which is only looked up, by row.</summary>
    IEnumerable<WeightMatrix> Products() => Matrices().Where(m => TiedOutput || !ReferenceEquals(m, TokenEmbd));

    /// <summary>The copies are private memory on top of the mapped file, which decode and prompts also touch:
    /// both together must stay under three quarters of the memory this process may use (physical memory or
    /// the container's limit), so that a model that runs mapped is never pushed into swapping or an
    /// out-of-memory kill by a speed-up.</summary>
    internal static bool FitsInMemory(long mappedBytes, long copyBytes, long availableBytes) =>
        mappedBytes + copyBytes <= availableBytes / 4 * 3;

    /// <summary>Builds the repacked copies of the product matrices that have a layout on this CPU and reads the
    /// others into memory, the matrices in parallel (0.3-0.6 s more load time for the 0.5-1B models on two
    /// cores, mostly first reads of the file); on failure, frees what was built. The mapped pages a matrix is
    /// repacked from are dropped once its copy is built (its prompts read the copy too:
    /// WeightMatrix.PromptsReadRepacked), so the copy is not resident twice; a matrix read into memory leaves its
    /// own alone.</summary>
    void Repack(IModelSource source)
    {
        var copies = Products().Select(m => (m, bytes: m.CanRepack ? DecodeRepack.Size(m.Type, m.Rows, m.Cols) : m.RowBytes * m.Rows)).ToList();
        // still read through the map: an untied embedding (by lookups); a matrix read into memory never maps its
        // pages, a repacked one drops them
        long mapped = Matrices().Sum(m => m.RowBytes * m.Rows) - copies.Sum(c => c.m.RowBytes * c.m.Rows);
        if (!FitsInMemory(mapped, copies.Sum(c => c.bytes), GC.GetGCMemoryInfo().TotalAvailableMemoryBytes))
        {
            RepackSkipped = true;
            return;
        }
        try
        {
            _arena = WeightArena.Allocate(copies.Select(c => c.bytes));
            var slices = copies.Select(c => (c.m, at: (nint)_arena.Take(c.bytes))).ToList();
            Parallel.ForEach(slices, s =>
            {
                if (!s.m.CanRepack) s.m.ReadIntoMemory(source, (byte*)s.at);
                else if (s.m.Repack((byte*)s.at) && s.m.PromptsReadRepacked) source.Evict((nint)s.m.Mapped, s.m.RowBytes * s.m.Rows);
            });
        }
        catch
        {
            FreeCopies();
            throw;
        }
    }

    /// <param name="repack">Build repacked copies of the matrices that have a faster decode layout on this
    /// CPU (DecodeRepack: Q4_0, Q5_0, Q8_0, Q4_K and Q6_K with AVX-512 BW or AVX2 + FMA, F16 rows longer than
    /// 4,096 with AVX-512 BW), about their size again in native memory, and read the other matrices the
    /// products use into native memory (instead of the mapped file's pages: about their size).</param>
    public static DecoderWeights Load(IModelSource src, ModelConfig c, Options opt, bool repack = false)
    {
        var byName = src.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        TensorEntry? Find(string name) { if (byName.TryGetValue(name, out var t)) { used.Add(name); return t; } return null; }
        TensorEntry Get(string name) => Find(name) ?? throw new InvalidModelFileException(src.Path, $"tensor '{name}' is missing");

        WeightMatrix Matrix(string name, int cols, int rows)
        {
            var t = Get(name);
            if (t.Dimensions.Length != 2 || t.Dimensions[0] != cols || t.Dimensions[1] != rows)
                throw new InvalidModelFileException(src.Path, $"tensor '{name}' has shape [{string.Join(", ", t.Dimensions)}], expected [{cols}, {rows}]");
            return new WeightMatrix(t);
        }
        float[] Vector(TensorEntry t, int n)
        {
            if (t.ElementCount != n || t.Dimensions[0] != n)
                throw new InvalidModelFileException(src.Path, $"tensor '{t.Name}' has shape [{string.Join(", ", t.Dimensions)}], expected [{n}]");
            var v = new float[n];
            QuantKernels.Dequantize(t.Type, t.Bytes, v);
            return v;
        }
        float[] Required(string name, int n) => Vector(Get(name), n);
        float[]? Optional(string name, int n) => Find(name) is { } t ? Vector(t, n) : null;

        int d = c.EmbeddingLength, q = c.QueryDim, kv = c.KvDim, ff = c.FeedForwardLength;
        var embd = Matrix(TensorNames.TokenEmbd, d, c.VocabSize);
        var layers = new LayerWeights[c.BlockCount];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = new LayerWeights
            {
                AttnNorm = Required(TensorNames.AttnNorm(i), d),
                AttnQ = Matrix(TensorNames.AttnQ(i), d, q),
                AttnK = Matrix(TensorNames.AttnK(i), d, kv),
                AttnV = Matrix(TensorNames.AttnV(i), d, kv),
                AttnOutput = Matrix(TensorNames.AttnOutput(i), q, d),
                AttnQBias = opt.QkvBias ? Required(TensorNames.AttnQBias(i), q) : Optional(TensorNames.AttnQBias(i), q),
                AttnKBias = opt.QkvBias ? Required(TensorNames.AttnKBias(i), kv) : Optional(TensorNames.AttnKBias(i), kv),
                AttnVBias = opt.QkvBias ? Required(TensorNames.AttnVBias(i), kv) : Optional(TensorNames.AttnVBias(i), kv),
                AttnQNorm = opt.QkNorm ? Required(TensorNames.AttnQNorm(i), c.HeadDim) : null,
                AttnKNorm = opt.QkNorm ? Required(TensorNames.AttnKNorm(i), c.HeadDim) : null,
                FfnNorm = Required(TensorNames.FfnNorm(i), d),
                FfnGate = Matrix(TensorNames.FfnGate(i), d, ff),
                FfnUp = Matrix(TensorNames.FfnUp(i), d, ff),
                FfnDown = Matrix(TensorNames.FfnDown(i), ff, d),
            };
        }
        var output = byName.ContainsKey(TensorNames.Output) ? Matrix(TensorNames.Output, d, c.VocabSize) : embd;
        var weights = new DecoderWeights
        {
            TokenEmbd = embd,
            OutputNorm = Required(TensorNames.OutputNorm, d),
            Output = output,
            RopeFreqs = Optional(TensorNames.RopeFreqs, c.RopeDimensions / 2),
            Layers = layers,
        };
        var unused = src.Tensors.Select(t => t.Name).Where(n => !used.Contains(n)).ToList();
        if (unused.Count > 0)
            throw new InvalidModelFileException(src.Path,
                $"{unused.Count} tensor(s) this {c.Architecture} model does not use, e.g. '{unused[0]}' (a different architecture?)");
        if (repack) weights.Repack(src);
        return weights;
    }
}
