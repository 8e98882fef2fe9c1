// All parameters of a trainable decoder in one float array (and their gradients in a second of the
// same layout), as llm.c's ParameterTensors: each tensor is a named slice whose name and shape are
// the GGUF ones, so export and import are a walk over the list. Matrices are (rows, cols) =
// (out, in), GGUF dimensions [cols, rows]. A tensor held elsewhere (a frozen base matrix kept quantized
// in the mapped file, see Lora/QuantizedProjections) is listed with its name and shape but takes no
// room in either array. Not an optimizer state: see AdamW.
namespace EdgeLM.Training;

/// <summary>One tensor: a slice [Offset, Offset + Rows·Cols) of the parameter (or gradient) array, or, when
/// not <paramref name="Stored"/>, a tensor held elsewhere whose slice is empty.</summary>
public sealed record ParameterTensor(string Name, int Offset, int Rows, int Cols, bool Stored = true)
{
    public int Length => Rows * Cols;
    public bool IsMatrix => Rows > 1;
    public Span<float> Of(float[] storage) => Stored ? storage.AsSpan(Offset, Length) : default;
}

/// <summary>One decoder block's tensors; the optional ones are null when the architecture has none.</summary>
public sealed record LayerParameters(
    ParameterTensor AttnNorm, ParameterTensor AttnQ, ParameterTensor AttnK, ParameterTensor AttnV, ParameterTensor AttnOutput,
    ParameterTensor? AttnQBias, ParameterTensor? AttnKBias, ParameterTensor? AttnVBias,
    ParameterTensor? AttnQNorm, ParameterTensor? AttnKNorm,
    ParameterTensor FfnNorm, ParameterTensor FfnGate, ParameterTensor FfnUp, ParameterTensor FfnDown);

public sealed class TransformerParameters
{
    readonly List<ParameterTensor> _all = [];
    int _count;

    readonly Func<string, bool>? _external;

    /// <summary>Every tensor of <paramref name="config"/>'s model; those <paramref name="external"/> names are
    /// held elsewhere and get no F32 data or gradient.</summary>
    public TransformerParameters(TransformerConfig config, Func<string, bool>? external = null)
    {
        _external = external;
        var c = config.Model;
        int C = c.EmbeddingLength, Q = c.QueryDim, KV = c.KvDim, F = c.FeedForwardLength, D = c.HeadDim;
        TokenEmbd = Add(Models.TensorNames.TokenEmbd, c.VocabSize, C);
        var layers = new LayerParameters[c.BlockCount];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = new LayerParameters(
                Add(Models.TensorNames.AttnNorm(i), 1, C),
                Add(Models.TensorNames.AttnQ(i), Q, C),
                Add(Models.TensorNames.AttnK(i), KV, C),
                Add(Models.TensorNames.AttnV(i), KV, C),
                Add(Models.TensorNames.AttnOutput(i), C, Q),
                config.QkvBias ? Add(Models.TensorNames.AttnQBias(i), 1, Q) : null,
                config.QkvBias ? Add(Models.TensorNames.AttnKBias(i), 1, KV) : null,
                config.QkvBias ? Add(Models.TensorNames.AttnVBias(i), 1, KV) : null,
                config.QkNorm ? Add(Models.TensorNames.AttnQNorm(i), 1, D) : null,
                config.QkNorm ? Add(Models.TensorNames.AttnKNorm(i), 1, D) : null,
                Add(Models.TensorNames.FfnNorm(i), 1, C),
                Add(Models.TensorNames.FfnGate(i), F, C),
                Add(Models.TensorNames.FfnUp(i), F, C),
                Add(Models.TensorNames.FfnDown(i), C, F));
        }
        Layers = layers;
        OutputNorm = Add(Models.TensorNames.OutputNorm, 1, C);
        // Tied: the output head is token_embd itself, and its gradient sums both uses.
        Output = config.Tied ? TokenEmbd : Add(Models.TensorNames.Output, c.VocabSize, C);
        Data = GC.AllocateArray<float>(_count, pinned: true);
        Grad = GC.AllocateArray<float>(_count, pinned: true);
    }

    /// <summary>Every parameter, in file order (the tied head is not listed twice).</summary>
    public float[] Data { get; }
    /// <summary>Gradients, same layout as <see cref="Data"/>.</summary>
    public float[] Grad { get; }
    public IReadOnlyList<ParameterTensor> Tensors => _all;
    public int Count => _count;

    public ParameterTensor TokenEmbd { get; }
    public IReadOnlyList<LayerParameters> Layers { get; }
    public ParameterTensor OutputNorm { get; }
    public ParameterTensor Output { get; }

    ParameterTensor Add(string name, int rows, int cols)
    {
        if (_external?.Invoke(name) == true)
        {
            var e = new ParameterTensor(name, 0, rows, cols, Stored: false);
            _all.Add(e);
            return e;
        }
        var t = new ParameterTensor(name, _count, rows, cols);
        _count = checked(_count + t.Length);
        _all.Add(t);
        return t;
    }

    /// <summary>Deterministic initialisation: norms 1, biases 0, matrices N(0, 0.02²), with the two
    /// projections that write into the residual stream (attn_output, ffn_down) scaled by 1/sqrt(2L) as
    /// GPT-2 does, so the residual variance does not grow with depth.</summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        int L = Layers.Count;
        foreach (var t in _all)
        {
            var d = t.Of(Data);
            if (t.Name.EndsWith("norm.weight", StringComparison.Ordinal)) d.Fill(1f);
            else if (t.Name.EndsWith(".bias", StringComparison.Ordinal)) d.Clear();
            else
            {
                bool residual = t.Name.EndsWith("attn_output.weight", StringComparison.Ordinal) || t.Name.EndsWith("ffn_down.weight", StringComparison.Ordinal);
                float std = residual ? 0.02f / MathF.Sqrt(2 * L) : 0.02f;
                for (int i = 0; i < d.Length; i++) d[i] = std * Gaussian(rng);
            }
        }
    }

    static float Gaussian(Random rng) =>
        MathF.Sqrt(-2f * MathF.Log(1f - rng.NextSingle())) * MathF.Cos(2f * MathF.PI * rng.NextSingle());
}
