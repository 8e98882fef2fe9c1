// Hand-built GGUF files with one specific defect each (gguf.md layout written byte by byte here,
// not by GgufWriter, so values no writer would produce can be made): each must be refused with
// InvalidModelFileException naming the file and saying what is wrong.
using System.Text;
using EdgeLM.Formats;
using EdgeLM.Formats.Gguf;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Formats;

public class GgufBadFileTests
{
    /// <summary>A GGUF byte builder: header, then whatever key-values and tensor infos the test writes.</summary>
    sealed class Raw
    {
        readonly MemoryStream _ms = new();
        readonly BinaryWriter _w;

        public Raw(ulong tensors, ulong kvs, uint version = 3, uint magic = GgufFile.Magic)
        {
            _w = new BinaryWriter(_ms);
            _w.Write(magic);
            _w.Write(version);
            _w.Write(tensors);
            _w.Write(kvs);
        }

        public Raw Str(string s) { byte[] b = Encoding.UTF8.GetBytes(s); _w.Write((ulong)b.Length); _w.Write(b); return this; }
        public Raw U32(uint v) { _w.Write(v); return this; }
        public Raw U64(ulong v) { _w.Write(v); return this; }
        public Raw Bytes(params byte[] b) { _w.Write(b); return this; }
        public Raw KvU32(string key, uint v) => Str(key).U32((uint)GgufValueType.UInt32).U32(v);
        public Raw KvU64(string key, ulong v) => Str(key).U32((uint)GgufValueType.UInt64).U64(v);

        public Raw Tensor(string name, ulong[] dims, uint type, ulong offset)
        {
            Str(name).U32((uint)dims.Length);
            foreach (ulong d in dims) U64(d);
            return U32(type).U64(offset);
        }

        /// <summary>Pads to 32 and appends <paramref name="dataBytes"/> zero bytes of tensor data.</summary>
        public byte[] Data(int dataBytes, int alignment = 32)
        {
            while (_ms.Length % alignment != 0) _w.Write((byte)0);
            _w.Write(new byte[dataBytes]);
            return _ms.ToArray();
        }
    }

    static readonly ulong[] D32 = [32];

    public static TheoryData<string, byte[], string> Cases() => new()
    {
        { "wrong magic", new Raw(0, 0, magic: 0x46554746).Data(0), "not a GGUF file" },
        { "version 1", new Raw(0, 0, version: 1).Data(0), "version 1 is not supported" },
        { "version 4", new Raw(0, 0, version: 4).Data(0), "unsupported GGUF version 4" },
        { "big-endian", new Raw(0, 0, version: 0x03000000).Data(0), "big-endian" },
        { "tensor count 2^63", new Raw(1UL << 63, 0).Data(64), "tensor count" },
        { "kv count 2^32", new Raw(0, 1UL << 32).Data(64), "metadata count" },
        { "key length 2^63", new Raw(0, 1).U64(1UL << 63).Data(64), "runs past the end" },
        { "unknown value type", new Raw(0, 1).Str("k").U32(99).U32(0).Data(0), "metadata key 'k' has unknown value type 99" },
        { "array of unknown type", new Raw(0, 1).Str("k").U32(9).U32(77).U64(1).Data(8), "unknown array element type 77" },
        { "nested array", new Raw(0, 1).Str("k").U32(9).U32(9).U64(1).Data(8), "nested arrays" },
        { "array count 2^63", new Raw(0, 1).Str("k").U32(9).U32(4).U64(1UL << 63).Data(64), "cannot fit" },
        { "string array count 2^32", new Raw(0, 1).Str("k").U32(9).U32(8).U64(1UL << 32).Data(64), "cannot fit" },
        { "bool 2", new Raw(0, 1).Str("k").U32(7).Bytes(2).Data(0), "bool value 2" },
        { "duplicate key", new Raw(0, 2).KvU32("k", 1).KvU32("k", 2).Data(0), "'k' appears twice" },
        { "invalid UTF-8 key", new Raw(0, 1).U64(2).Bytes(0xC3, 0x28).U32(4).U32(1).Data(0), "not valid UTF-8" },
        { "alignment u64 huge", new Raw(0, 1).KvU64("general.alignment", ulong.MaxValue).Data(0), "general.alignment" },
        { "alignment 0", new Raw(0, 1).KvU32("general.alignment", 0).Data(0), "general.alignment" },
        { "alignment 48", new Raw(0, 1).KvU32("general.alignment", 48).Data(0), "expected a power of two" },
        { "alignment as string", new Raw(0, 1).Str("general.alignment").U32(8).Str("32").Data(0), "general.alignment" },
        { "unknown tensor type", new Raw(1, 0).Tensor("t", D32, 99, 0).Data(128), "tensor 't' has unknown or unsupported type 99" },
        { "zero dims", new Raw(1, 0).Tensor("t", [], 0, 0).Data(128), "tensor 't' has 0 dimensions" },
        { "five dims", new Raw(1, 0).Tensor("t", [1, 1, 1, 1, 1], 0, 0).Data(128), "tensor 't' has 5 dimensions" },
        { "dimension 0", new Raw(1, 0).Tensor("t", [0], 0, 0).Data(128), "dimension 0 = 0" },
        { "dimension 2^63", new Raw(1, 0).Tensor("t", [1UL << 63], 0, 0).Data(128), "dimension 0" },
        { "shape overflow", new Raw(1, 0).Tensor("t", [1UL << 31, 1UL << 31, 1UL << 31], 0, 0).Data(128), "overflows" },
        { "byte size overflow", new Raw(1, 0).Tensor("t", [1UL << 31, 1UL << 31], 0, 0).Data(128), "tensor 't'" },
        { "row not a block multiple", new Raw(1, 0).Tensor("t", [33], 8, 0).Data(128), "not a multiple of the block size 32" },
        { "misaligned offset", new Raw(1, 0).Tensor("t", D32, 0, 4).Data(256), "offset 4 is not aligned to 32" },
        { "offset past end", new Raw(1, 0).Tensor("t", D32, 0, 1UL << 62).Data(128), "runs past the end" },
        { "data truncated", new Raw(1, 0).Tensor("t", D32, 0, 0).Data(100), "tensor 't' (128 bytes at data offset 0) runs past the end" },
        { "overlap", new Raw(2, 0).Tensor("a", D32, 0, 0).Tensor("b", D32, 0, 64).Data(256), "tensors 'a' and 'b' overlap" },
        { "duplicate tensor", new Raw(2, 0).Tensor("a", D32, 0, 0).Tensor("a", D32, 0, 128).Data(256), "tensor 'a' appears twice" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Defect_is_refused_with_the_reason(string what, byte[] bytes, string reason)
    {
        using var dir = new TempDir();
        string path = dir.File(what.Replace(' ', '_') + ".gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidModelFileException>(() => GgufFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Hand_built_valid_file_opens()
    {
        using var dir = new TempDir();
        string path = dir.File("ok.gguf");
        File.WriteAllBytes(path, new Raw(2, 1).KvU32("general.alignment", 64).Tensor("a", D32, 0, 0).Tensor("b", D32, 0, 128).Data(256, 64));
        using var f = GgufFile.Open(path);
        Assert.Equal(64, f.Alignment);
        Assert.Equal(2, f.Tensors.Count);
    }

    [Fact]
    public void Typed_accessors_refuse_out_of_range_values_by_key()
    {
        using var dir = new TempDir();
        string path = dir.File("big.gguf");
        new GgufWriter().Set("k.u64", GgufValue.Of(ulong.MaxValue)).Set("k.arr", GgufValue.Of(new uint[] { uint.MaxValue })).Write(path);
        using var f = GgufFile.Open(path);
        Assert.Contains("'k.u64'", Assert.Throws<InvalidModelFileException>(() => f.GetInteger("k.u64")).Message);
        Assert.Contains("'k.arr'", Assert.Throws<InvalidModelFileException>(() => f.GetInt32Array("k.arr")).Message);
        Assert.Equal(ulong.MaxValue, f.GetNumber("k.u64"));
        Assert.True(f.GetBool("k.u64"));
        // A uint[] must not pass for an int[] (the runtime's array covariance would make it -1).
        Assert.Throws<InvalidModelFileException>(() => f.GetArray<int>("k.arr"));
        Assert.Equal([uint.MaxValue], f.GetArray<uint>("k.arr")!);
    }
}
