// The key/value cache, per layer, in F32, F16 (the default, as llama.cpp's) or Q8_0, chosen
// separately for keys and values (llama.cpp's --cache-type-k / --cache-type-v).
// Layouts: F32 / F16 keys are transposed, (KvDim, ContextLength), so attention scores for
// consecutive positions are vertical FMAs; F32 / F16 values are rows of KvDim per position. Q8_0
// keys and values are rows of KvDim per position in 32-value blocks (a head is HeadDim / 32 whole
// blocks), written with the same quantizer llama.cpp's CPU backend copies into its cache with.
// F16 rounds to nearest even (GGML_FP32_TO_FP16). Native memory, so an untouched tail of a long
// context costs address space, not resident memory, and the managed heap stays small.
using System.Runtime.InteropServices;
using EdgeLM.Quantization;
using EdgeLM.Tensors;

namespace EdgeLM.Models;

public sealed unsafe class KvCache : IDisposable
{
    readonly byte*[] _keys;
    readonly byte*[] _values;
    readonly bool[] _special;

    public KvCache(int layers, int contextLength, int kvDim, int headDim, GgmlType keyType = GgmlType.F16, GgmlType valueType = GgmlType.F16)
    {
        CheckType(keyType, headDim, "key");
        CheckType(valueType, headDim, "value");
        Layers = layers;
        ContextLength = contextLength;
        KvDim = kvDim;
        HeadDim = headDim;
        KeyType = keyType;
        ValueType = valueType;
        _keys = new byte*[layers];
        _values = new byte*[layers];
        _special = new bool[layers];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = (byte*)NativeMemory.AlignedAlloc((nuint)LayerBytes(keyType), 64);
            _values[l] = (byte*)NativeMemory.AlignedAlloc((nuint)LayerBytes(valueType), 64);
        }
    }

    /// <summary>The types a cache can hold.</summary>
    public static readonly GgmlType[] SupportedTypes = [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0];

    static void CheckType(GgmlType type, int headDim, string what)
    {
        if (Array.IndexOf(SupportedTypes, type) < 0)
            throw new ArgumentException($"KV cache {what} type {type} is not supported (use f32, f16 or q8_0)");
        if (type == GgmlType.Q8_0 && headDim % 32 != 0)
            throw new ArgumentException($"a q8_0 KV cache needs a head size that is a multiple of 32, this model's is {headDim}");
    }

    public int Layers { get; }
    public int ContextLength { get; }
    public int KvDim { get; }
    public int HeadDim { get; }
    public GgmlType KeyType { get; }
    public GgmlType ValueType { get; }
    public long Bytes => Layers * (LayerBytes(KeyType) + LayerBytes(ValueType));

    /// <summary>Bytes of one position's KvDim values in <paramref name="type"/>.</summary>
    public long RowBytes(GgmlType type) => GgmlTypes.RowBytes(type, KvDim);

    long LayerBytes(GgmlType type) => ContextLength * RowBytes(type);

    /// <summary>Keys of a layer: F32 / F16 transposed, (KvDim, ContextLength), key (pos, i) at i · ContextLength + pos;
    /// Q8_0 (ContextLength, KvDim) in blocks.</summary>
    public byte* Keys(int layer) => _keys[layer];
    /// <summary>Values of a layer: (ContextLength, KvDim) in ValueType.</summary>
    public byte* Values(int layer) => _values[layer];

    /// <summary>False once an F16 key or value written into this layer has been an infinity or NaN (it stays false:
    /// the attention kernels then widen this layer's F16 with the conversion that handles them; while true they
    /// may use the shorter one that is exact for finite values only).</summary>
    public bool AllFinite(int layer) => !_special[layer];

    /// <summary>Writes the keys and values (T, KvDim each) of positions pos0 .. pos0+T-1 into a layer.</summary>
    public void Store(int layer, int pos0, int T, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        if ((uint)layer >= (uint)Layers || pos0 < 0 || pos0 + T > ContextLength || k.Length < T * KvDim || v.Length < T * KvDim)
            throw new ArgumentOutOfRangeException(nameof(pos0), $"layer {layer}, positions {pos0}..{pos0 + T - 1} do not fit the cache");
        int kv = KvDim;
        long ctx = ContextLength;
        byte* keys = _keys[layer];
        switch (KeyType)
        {
            case GgmlType.F32:
                for (int t = 0; t < T; t++)
                    for (int i = 0; i < kv; i++) ((float*)keys)[i * ctx + pos0 + t] = k[t * kv + i];
                break;
            case GgmlType.F16:
                for (int t = 0; t < T; t++)
                    for (int i = 0; i < kv; i++) ((ushort*)keys)[i * ctx + pos0 + t] = ToHalf(k[t * kv + i], layer);
                break;
            default:
                StoreRows(keys, KeyType, pos0, T, k, layer);
                break;
        }
        StoreRows(_values[layer], ValueType, pos0, T, v, layer);
    }

    /// <summary>x as F16, noting a layer that comes to hold an infinity or NaN (exponent all ones).</summary>
    ushort ToHalf(float x, int layer)
    {
        ushort h = QuantMath.FloatToHalf(x);
        if ((h & 0x7C00) == 0x7C00) _special[layer] = true;
        return h;
    }

    void StoreRows(byte* dst, GgmlType type, int pos0, int T, ReadOnlySpan<float> src, int layer)
    {
        int kv = KvDim;
        long rowBytes = RowBytes(type);
        for (int t = 0; t < T; t++)
        {
            var row = src.Slice(t * kv, kv);
            byte* d = dst + (pos0 + t) * rowBytes;
            switch (type)
            {
                case GgmlType.F32: row.CopyTo(new Span<float>(d, kv)); break;
                case GgmlType.F16:
                    for (int i = 0; i < kv; i++) ((ushort*)d)[i] = ToHalf(row[i], layer);
                    break;
                default: QuantKernels.Quantize(type, row, new Span<byte>(d, (int)rowBytes)); break;
            }
        }
    }

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
