// QLoRA-style frozen base (Dettmers et al. 2023, "QLoRA": a quantized, frozen base under trainable
// adapters): the block projections of a GGUF base stay in their stored type (Q8_0, Q4_0, Q4_K, F16 ...)
// in the mapped file, and the forward product and input gradient are computed from them by
// dequantizing a tile of rows at a time into a small F32 buffer and running Linear's blocked kernels
// on it. The rest (embeddings, norms, output head) is loaded as F32 into the Transformer's parameters.
// Not a quantizer and not an inference path; the tile's rows are dequantized exactly as
// TransformerGguf.Load dequantizes them, so results equal training on the dequantized copy.
// Legend: N = B·T rows, C = input channels, OC = output channels, R = tile rows.
using EdgeLM.Formats;
using EdgeLM.Models;
using EdgeLM.Quantization;
using EdgeLM.Training.Layers;
using WorkerPool = EdgeLM.Kernels.WorkerPool;

namespace EdgeLM.Training.Lora;

public sealed class QuantizedProjections : IFrozenProjections, IDisposable
{
    const int TargetCount = 7;
    /// <summary>Rows dequantized at a time: a multiple of Linear's 4-row blocks, small enough that the tile
    /// (R × C floats) and the tile's outputs (N × R) stay in cache-sized buffers.</summary>
    const int TileRows = 64;

    readonly DecoderModel _model;      // owns the mapping the tensors point into
    readonly TensorEntry?[] _tensors;  // (layer, target)
    readonly float[] _tile;            // (R, max C)
    readonly float[] _tileOut;         // (N, R)

    QuantizedProjections(DecoderModel model, TensorEntry?[] tensors, int maxIn, int maxN)
    {
        _model = model;
        _tensors = tensors;
        _tile = new float[TileRows * maxIn];
        _tileOut = new float[maxN * TileRows];
    }

    /// <summary>Bytes of the frozen projections as stored (mapped, not copied).</summary>
    public long StoredBytes { get; private set; }
    /// <summary>Bytes an F32 copy of the same projections would take.</summary>
    public long F32Bytes { get; private set; }
    /// <summary>Bytes of the F32 scratch used to compute with them.</summary>
    public long ScratchBytes => 4L * (_tile.Length + _tileOut.Length);

    /// <summary>A Transformer for batches of (B, T) with the base's embeddings, norms and head in F32 and
    /// its block projections left in the mapped file, attached as the Transformer's FrozenProjections.</summary>
    public static (Transformer Model, QuantizedProjections Frozen) Load(string path, int B, int T)
    {
        var model = DecoderModel.Load(ModelSources.Open(path));
        try
        {
            if (model.Weights.RopeFreqs is not null)
                throw new InvalidModelFileException(path, $"tensor '{TensorNames.RopeFreqs}': Llama 3 rope scaling is not supported for training yet");
            var config = new TransformerConfig(model.Config, model.Weights.TiedOutput, model.Architecture.Layer.QkvBias, model.Architecture.Layer.QkNorm);
            var m = new Transformer(config, B, T);
            var byName = model.Source.Tensors.ToDictionary(t => t.Name);
            var held = new Dictionary<string, int>();
            for (int l = 0; l < config.Model.BlockCount; l++)
                for (int t = 0; t < TargetCount; t++) held[LinearTargets.TensorName(l, (LinearTarget)t)] = l * TargetCount + t;
            var tensors = new TensorEntry?[config.Model.BlockCount * TargetCount];
            long stored = 0, f32 = 0;
            int maxIn = 1;
            foreach (var t in m.Parameters.Tensors)
            {
                if (!byName.TryGetValue(t.Name, out var e)) throw new InvalidModelFileException(path, $"tensor '{t.Name}' is missing");
                if (e.ElementCount != t.Length || e.Dimensions[0] != t.Cols)
                    throw new InvalidModelFileException(path, $"tensor '{t.Name}' has shape [{string.Join(", ", e.Dimensions)}], expected [{t.Cols}, {t.Rows}]");
                if (held.TryGetValue(t.Name, out int slot))
                {
                    tensors[slot] = e;
                    (stored, f32, maxIn) = (stored + e.ByteSize, f32 + 4L * t.Length, Math.Max(maxIn, t.Cols));
                    continue; // its slice of the parameter array is never touched
                }
                var dst = t.Of(m.Parameters.Data);
                int rowBytes = checked((int)e.RowBytes);
                for (int r = 0; r < t.Rows; r++)
                    QuantKernels.Dequantize(e.Type, e.Bytes.Slice(r * rowBytes, rowBytes), dst.Slice(r * t.Cols, t.Cols));
            }
            var q = new QuantizedProjections(model, tensors, maxIn, B * T) { StoredBytes = stored, F32Bytes = f32 };
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

    public void Forward(int layer, LinearTarget target, Span<float> output, ReadOnlySpan<float> input, int N, int C, int OC, WorkerPool? pool)
    {
        var e = _tensors[layer * TargetCount + (int)target]!;
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

    public void BackwardInput(int layer, LinearTarget target, Span<float> dinput, ReadOnlySpan<float> doutput, int N, int C, int OC, WorkerPool? pool)
    {
        var e = _tensors[layer * TargetCount + (int)target]!;
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
            var src = new ReadOnlySpan<byte>((byte*)e.Data + (long)o * rowBytes, R * rowBytes);
            for (int r = 0; r < R; r++) QuantKernels.Dequantize(e.Type, src.Slice(r * rowBytes, rowBytes), tile.Slice(r * C, C));
        }
        return tile;
    }

    public void Dispose() => _model.Dispose();
}
