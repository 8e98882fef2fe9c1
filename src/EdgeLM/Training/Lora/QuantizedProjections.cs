// QLoRA-style frozen base (Dettmers et al. 2023, "QLoRA": a quantized, frozen base under trainable
// adapters): the block projections of a GGUF base stay in their stored type (Q8_0, Q4_0, Q4_K, F16 ...)
// in the mapped file, and the forward product and input gradient are computed from them by
// dequantizing a tile of rows at a time into a small F32 buffer and running Linear's blocked kernels
// on it. The token embedding and output head stay quantized too (rows are looked up by dequantizing
// them; the head's logits and input gradient take the same tiled path), and none of these tensors
// has F32 data or gradient storage in the Transformer's parameters; only the norms and biases are
// loaded as F32.
// With streamWeights, the frozen matrices' bytes are read from the file tile by tile (WeightStream)
// instead of touched through the mapping, so they stay out of the process's resident set.
// Not a quantizer and not an inference path; the tile's rows are dequantized exactly as
// TransformerGguf.Load dequantizes them, so results equal training on the dequantized copy.
// Legend: N = B·T rows, C = input channels, OC = output channels, R = tile rows.
using EdgeLM.Formats;
using EdgeLM.Models;
using EdgeLM.Quantization;
using EdgeLM.Training.Layers;
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training.Lora;

public sealed partial class QuantizedProjections : IFrozenProjections, IDisposable
{
    const int TargetCount = 7;
    /// <summary>Rows dequantized at a time: a multiple of Linear's 4-row blocks, small enough that the tile
    /// (R × C floats) and the tile's outputs (N × R) stay in cache-sized buffers.</summary>
    const int TileRows = 64;

    readonly DecoderModel _model;      // owns the mapping the tensors point into
    readonly TensorEntry?[] _tensors;  // (layer, target)
    readonly TensorEntry? _embedding, _output;
    readonly float[] _tile;            // (R, max C)
    readonly float[] _tileOut;         // (N, R)
    readonly float[] _rowMax, _rowLse, _targetLogit;   // (N) each: the vocabulary-tiled loss's per-row state
    readonly double[] _rowSum;                         // (N)
    readonly float[] _exp = new float[TileRows];       // (R)
    WeightStream? _stream;                             // set: tiles are read from the file, not the mapping

    QuantizedProjections(DecoderModel model, TensorEntry?[] tensors, TensorEntry? embedding, TensorEntry? output, int maxIn, int maxN)
    {
        _model = model;
        _tensors = tensors;
        (_embedding, _output) = (embedding, output);
        _tile = new float[TileRows * maxIn];
        _tileOut = new float[maxN * TileRows];
        (_rowMax, _rowLse, _targetLogit, _rowSum) = (new float[maxN], new float[maxN], new float[maxN], new double[maxN]);
    }

    /// <summary>Bytes of the frozen projections as stored (mapped, not copied).</summary>
    public long StoredBytes { get; private set; }
    /// <summary>Bytes an F32 copy of the same projections would take.</summary>
    public long F32Bytes { get; private set; }
    /// <summary>Bytes of the F32 scratch used to compute with them.</summary>
    public long ScratchBytes => 4L * (_tile.Length + _tileOut.Length) + (_stream?.BufferBytes ?? 0);
    /// <summary>True when the frozen matrices are read from the file tile by tile instead of through the mapping.</summary>
    public bool Streamed => _stream is not null;
    /// <summary>Bytes read from the file so far when streamed (each pass reads every tile it uses again).</summary>
    public long BytesRead => _stream?.BytesRead ?? 0;
    /// <summary>Seconds spent reading them so far (wall time, including waiting for the disk when not cached).</summary>
    public double ReadSeconds => (_stream?.ReadTicks ?? 0) / (double)System.Diagnostics.Stopwatch.Frequency;

    /// <summary>A Transformer for batches of (B, T) with the base's norms and biases in F32 and its block
    /// projections, token embedding and output head left in the mapped file, attached as the Transformer's
    /// FrozenProjections. <paramref name="activations"/> bounds the activation memory. With <paramref name="streamWeights"/>
    /// (GGUF only), each tile's bytes are read from the file just before use instead of through the mapping:
    /// the same numbers, without the file in the resident set.</summary>
    public static (Transformer Model, QuantizedProjections Frozen) Load(string path, int B, int T, ActivationOptions? activations = null,
        bool streamWeights = false)
    {
        var model = DecoderModel.Load(ModelSources.Open(path));
        try
        {
            if (model.Weights.RopeFreqs is not null)
                throw new InvalidModelFileException(path, $"tensor '{TensorNames.RopeFreqs}': Llama 3 rope scaling is not supported for training yet");
            var config = new TransformerConfig(model.Config, model.Weights.TiedOutput, model.Architecture.Layer.QkvBias, model.Architecture.Layer.QkNorm);
            var held = new Dictionary<string, int> { [TensorNames.TokenEmbd] = -1, [TensorNames.Output] = -2 };
            for (int l = 0; l < config.Model.BlockCount; l++)
                for (int t = 0; t < TargetCount; t++) held[LinearTargets.TensorName(l, (LinearTarget)t)] = l * TargetCount + t;
            var m = new Transformer(config, B, T, activations, held.ContainsKey);
            var byName = model.Source.Tensors.ToDictionary(t => t.Name);
            var tensors = new TensorEntry?[config.Model.BlockCount * TargetCount];
            TensorEntry? embedding = null, output = null;
            long stored = 0, f32 = 0;
            int maxIn = 1;
            long maxTileBytes = 1;
            foreach (var t in m.Parameters.Tensors)
            {
                if (!byName.TryGetValue(t.Name, out var e)) throw new InvalidModelFileException(path, $"tensor '{t.Name}' is missing");
                if (e.ElementCount != t.Length || e.Dimensions[0] != t.Cols)
                    throw new InvalidModelFileException(path, $"tensor '{t.Name}' has shape [{string.Join(", ", e.Dimensions)}], expected [{t.Cols}, {t.Rows}]");
                if (!t.Stored)
                {
                    int slot = held[t.Name];
                    if (slot >= 0) tensors[slot] = e;
                    else if (slot == -1) embedding = e;
                    else output = e;
                    (stored, f32, maxIn) = (stored + e.ByteSize, f32 + 4L * t.Length, Math.Max(maxIn, t.Cols));
                    maxTileBytes = Math.Max(maxTileBytes, Math.Min(TileRows, t.Rows) * e.RowBytes);
                    continue;
                }
                var dst = t.Of(m.Parameters.Data);
                int rowBytes = checked((int)e.RowBytes);
                for (int r = 0; r < t.Rows; r++)
                    QuantKernels.Dequantize(e.Type, e.Bytes.Slice(r * rowBytes, rowBytes), dst.Slice(r * t.Cols, t.Cols));
            }
            // Tied: the head is token_embd itself.
            output ??= config.Tied ? embedding : null;
            var q = new QuantizedProjections(model, tensors, embedding, output, maxIn, m.Acts.B * m.Acts.T) { StoredBytes = stored, F32Bytes = f32 };
            if (streamWeights) q._stream = WeightStream.Open(model, checked((int)maxTileBytes));
            m.FrozenProjections = q;
            return (m, q);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public bool Holds(int layer, LinearTarget target) => _tensors[layer * TargetCount + (int)target] is not null;

    public void Forward(int layer, LinearTarget target, Span<float> output, ReadOnlySpan<float> input, int N, int C, int OC, WorkerPool? pool) =>
        ForwardTiles(_tensors[layer * TargetCount + (int)target]!, output, input, N, C, OC, pool);

    public void BackwardInput(int layer, LinearTarget target, Span<float> dinput, ReadOnlySpan<float> doutput, int N, int C, int OC, WorkerPool? pool) =>
        BackwardTiles(_tensors[layer * TargetCount + (int)target]!, dinput, doutput, N, C, OC, pool);

    public bool HoldsEmbedding => _embedding is not null;

    public void Embed(Span<float> output, ReadOnlySpan<int> tokens, int N, int C)
    {
        var e = _embedding!;
        int rowBytes = checked((int)e.RowBytes);
        unsafe
        {
            // Token ids were checked against the vocabulary by Transformer.Forward.
            for (int n = 0; n < N; n++)
            {
                var row = _stream is { } s ? s.Read(e, (long)tokens[n] * rowBytes, rowBytes)
                    : new ReadOnlySpan<byte>((byte*)e.Data + (long)tokens[n] * rowBytes, rowBytes);
                QuantKernels.Dequantize(e.Type, row, output.Slice(n * C, C));
            }
        }
    }

    public bool HoldsOutput => _output is not null;

    public void OutputForward(Span<float> logits, ReadOnlySpan<float> input, int N, int C, int V, WorkerPool? pool) =>
        ForwardTiles(_output!, logits, input, N, C, V, pool);

    public void OutputBackwardInput(Span<float> dinput, ReadOnlySpan<float> dlogits, int N, int C, int V, WorkerPool? pool) =>
        BackwardTiles(_output!, dinput, dlogits, N, C, V, pool);

    void ForwardTiles(TensorEntry e, Span<float> output, ReadOnlySpan<float> input, int N, int C, int OC, WorkerPool? pool)
    {
        for (int o = 0; o < OC; o += TileRows)
        {
            int R = Math.Min(TileRows, OC - o);
            var tile = Dequantize(e, o, R, C);
            var y = _tileOut.AsSpan(0, N * R);
            // y (N, R) = x Wtileᵀ, then scattered into columns o..o+R of output (N, OC)
            Linear.Forward(y, input, tile, default, N, C, R, pool);
            for (int n = 0; n < N; n++) y.Slice(n * R, R).CopyTo(output.Slice(n * OC + o, R));
        }
    }

    void BackwardTiles(TensorEntry e, Span<float> dinput, ReadOnlySpan<float> doutput, int N, int C, int OC, WorkerPool? pool)
    {
        for (int o = 0; o < OC; o += TileRows)
        {
            int R = Math.Min(TileRows, OC - o);
            var tile = Dequantize(e, o, R, C);
            var dy = _tileOut.AsSpan(0, N * R);
            // forward: y[:, o..o+R] = x Wtileᵀ ⇒ dx += dy[:, o..o+R] · Wtile
            for (int n = 0; n < N; n++) doutput.Slice(n * OC + o, R).CopyTo(dy.Slice(n * R, R));
            FrozenLinear.BackwardInput(dinput, dy, tile, N, C, R, pool);
        }
    }

    /// <summary>Rows [o, o + R) of the stored matrix as F32 (R, C) in the tile buffer.</summary>
    Span<float> Dequantize(TensorEntry e, int o, int R, int C)
    {
        var tile = _tile.AsSpan(0, R * C);
        int rowBytes = checked((int)e.RowBytes);
        unsafe
        {
            var src = _stream is { } s ? s.Read(e, (long)o * rowBytes, R * rowBytes)
                : new ReadOnlySpan<byte>((byte*)e.Data + (long)o * rowBytes, R * rowBytes);
            for (int r = 0; r < R; r++) QuantKernels.Dequantize(e.Type, src.Slice(r * rowBytes, rowBytes), tile.Slice(r * C, C));
        }
        return tile;
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _model.Dispose();
    }
}
