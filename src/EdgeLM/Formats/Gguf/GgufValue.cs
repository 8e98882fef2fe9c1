// GGUF metadata values (gguf.md, "Metadata"): a type tag and the value, with arrays held as typed
// .NET arrays (string[], float[], int[], ...).
using System.Globalization;

namespace EdgeLM.Formats.Gguf;

public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>A metadata value. For arrays, <see cref="ElementType"/> names the element type.</summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    public static GgufValue Of(string s) => new(GgufValueType.String, s);
    public static GgufValue Of(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue Of(int v) => new(GgufValueType.Int32, v);
    public static GgufValue Of(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue Of(long v) => new(GgufValueType.Int64, v);
    public static GgufValue Of(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Of(double v) => new(GgufValueType.Float64, v);
    public static GgufValue Of(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue Of(string[] v) => new(GgufValueType.Array, v, GgufValueType.String);
    public static GgufValue Of(float[] v) => new(GgufValueType.Array, v, GgufValueType.Float32);
    public static GgufValue Of(int[] v) => new(GgufValueType.Array, v, GgufValueType.Int32);
    public static GgufValue Of(uint[] v) => new(GgufValueType.Array, v, GgufValueType.UInt32);

    public bool IsInteger => Type is GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16
        or GgufValueType.Int16 or GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64;

    /// <summary>The value as a signed 64-bit integer, for any integer type (and bool).</summary>
    public long AsInt64() => Value switch
    {
        byte b => b,
        sbyte b => b,
        ushort s => s,
        short s => s,
        uint u => u,
        int i => i,
        ulong u => u > long.MaxValue ? throw new OverflowException() : (long)u,
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException($"{Type} is not an integer"),
    };

    public double AsDouble() => Value switch
    {
        float f => f,
        double d => d,
        _ when IsInteger => AsInt64(),
        _ => throw new InvalidCastException($"{Type} is not a number"),
    };

    public override string ToString() => Value switch
    {
        string s => s,
        Array a => $"[{ElementType} x {a.Length}]",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(Value, CultureInfo.InvariantCulture) ?? "",
    };
}
