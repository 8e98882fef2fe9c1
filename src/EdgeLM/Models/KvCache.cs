// The key/value cache, per layer. Values: one row of KvDim floats per position. Keys: transposed,
// (KvDim, ContextLength), so attention scores for consecutive positions are vertical FMAs.
// Native memory, so an untouched tail of a long context costs address space, not resident memory,
// and the managed heap stays small.
using System.Runtime.InteropServices;

namespace EdgeLM.Models;

public sealed unsafe class KvCache : IDisposable
{
    readonly float*[] _keys;
    readonly float*[] _values;

    public KvCache(int layers, int contextLength, int kvDim)
    {
        Layers = layers;
        ContextLength = contextLength;
        KvDim = kvDim;
        _keys = new float*[layers];
        _values = new float*[layers];
        nuint bytes = (nuint)contextLength * (nuint)kvDim * sizeof(float);
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = (float*)NativeMemory.AlignedAlloc(bytes, 64);
            _values[l] = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        }
    }

    public int Layers { get; }
    public int ContextLength { get; }
    public int KvDim { get; }
    public long Bytes => 2L * Layers * ContextLength * KvDim * sizeof(float);

    /// <summary>Keys of a layer, transposed: (KvDim, ContextLength); key (pos, i) is at i · ContextLength + pos.</summary>
    public float* Keys(int layer) => _keys[layer];
    /// <summary>Values of a layer: (ContextLength, KvDim).</summary>
    public float* Values(int layer) => _values[layer];

    public void Dispose()
    {
        for (int l = 0; l < Layers; l++)
        {
            if (_keys[l] is not null) NativeMemory.AlignedFree(_keys[l]);
            if (_values[l] is not null) NativeMemory.AlignedFree(_values[l]);
            _keys[l] = null;
            _values[l] = null;
        }
    }
}
