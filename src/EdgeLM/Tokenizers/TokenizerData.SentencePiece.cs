// TokenizerData from SentencePiece files. The ModelProto protobuf (sentencepiece_model.proto:
// pieces = 1 {piece = 1, score = 2, type = 3}, trainer_spec = 2 {model_type = 3, byte_fallback = 35,
// unk_id = 40, bos_id = 41, eos_id = 42, pad_id = 43}, normalizer_spec = 3 {precompiled_charsmap = 2,
// add_dummy_prefix = 3, remove_extra_whitespaces = 4}) is read by a minimal wire-format reader: BPE
// models become "llama" vocabularies (the charsmap ignored, as llama.cpp's SPM tokenizer ignores it),
// Unigram models "t5" ones with their charsmap. llama2.c's tokenizer.bin (export.py: int32
// max_token_length, then per token float32 score, int32 length, bytes, with '▁' written as ' ')
// becomes a "llama" vocabulary. Both exactly as llama.cpp's converter would write them.
using System.Buffers.Binary;
using System.Text;
using EdgeLM.Formats;

namespace EdgeLM.Tokenizers;

public sealed partial record TokenizerData
{
    static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>Reads a SentencePiece tokenizer.model (ModelProto).</summary>
    public static TokenizerData FromSentencePieceModel(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var tokens = new List<string>();
        var scores = new List<float>();
        var types = new List<TokenType>();
        int unk = 0, bos = 1, eos = 2, pad = -1;
        int modelType = 1; // trainer_spec.model_type: UNIGRAM = 1 (the proto default), BPE = 2, WORD = 3, CHAR = 4
        bool addDummyPrefix = true, removeExtraWhitespaces = true;
        byte[]? charsmap = null;
        var r = new ProtoReader(bytes, path);
        while (r.Next(out int field, out int wire))
        {
            if (field == 1 && wire == 2)
            {
                var piece = r.Message();
                string text = "";
                float score = 0;
                var type = TokenType.Normal;
                while (piece.Next(out int f, out int w))
                {
                    if (f == 1 && w == 2) text = piece.String($"piece {tokens.Count}");
                    else if (f == 2 && w == 5) score = piece.Float();
                    else if (f == 3 && w == 0) type = (TokenType)piece.Varint();
                    else piece.Skip(w);
                }
                if (type is < TokenType.Normal or > TokenType.Byte)
                    throw new InvalidModelFileException(path, $"piece {tokens.Count} ('{text}') has unknown type {(int)type}");
                tokens.Add(text);
                scores.Add(score);
                types.Add(type);
            }
            else if (field == 2 && wire == 2)
            {
                var spec = r.Message();
                while (spec.Next(out int f, out int w))
                {
                    if (w != 0) { spec.Skip(w); continue; }
                    long v = spec.Varint();
                    switch (f)
                    {
                        case 3: modelType = (int)v; break;
                        case 40: unk = (int)v; break;
                        case 41: bos = (int)v; break;
                        case 42: eos = (int)v; break;
                        case 43: pad = (int)v; break;
                    }
                }
            }
            else if (field == 3 && wire == 2)
            {
                var norm = r.Message();
                while (norm.Next(out int f, out int w))
                {
                    if (f == 3 && w == 0) addDummyPrefix = norm.Varint() != 0;
                    else if (f == 4 && w == 0) removeExtraWhitespaces = norm.Varint() != 0;
                    else if (f == 2 && w == 2) charsmap = norm.Bytes().ToArray();
                    else norm.Skip(w);
                }
            }
            else r.Skip(wire);
        }
        if (tokens.Count == 0)
            throw new InvalidModelFileException(path, "no pieces found; not a SentencePiece model");
        if (modelType is not (1 or 2))
            throw new InvalidModelFileException(path, $"trainer_spec.model_type {modelType} is not supported (UNIGRAM = 1 or BPE = 2)");
        var data = new TokenizerData
        {
            Model = "llama",
            Tokens = [.. tokens],
            Scores = [.. scores],
            Types = [.. types],
            UnkId = unk,
            BosId = bos,
            EosId = eos,
            PadId = pad,
            AddBos = true,
            AddSpacePrefix = addDummyPrefix,
        };
        // A Unigram model becomes llama.cpp's "t5" (UGM) vocabulary, with T5's add_eos default.
        if (modelType == 1)
            data = data with
            {
                Model = "t5",
                AddBos = false,
                AddEos = true,
                RemoveExtraWhitespaces = removeExtraWhitespaces,
                PrecompiledCharsmap = charsmap is { Length: > 0 } ? charsmap : null,
            };
        return data.Validate(path);
    }

    /// <summary>
    /// Reads llama2.c's tokenizer.bin. The file has no token count: tokens run to the end of the file.
    /// Ids 0/1/2 are unknown/BOS/EOS (named &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt; as in the SentencePiece model);
    /// &lt;0xHH&gt; tokens are byte tokens; spaces go back to '▁'.
    /// </summary>
    public static TokenizerData FromLlama2cBin(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 4)
            throw new InvalidModelFileException(path, "too short for a llama2.c tokenizer (no max_token_length)");
        int maxLen = BinaryPrimitives.ReadInt32LittleEndian(b);
        if (maxLen <= 0 || maxLen > 1 << 16)
            throw new InvalidModelFileException(path, $"max_token_length {maxLen} is not plausible");
        var tokens = new List<string>();
        var scores = new List<float>();
        int pos = 4;
        while (pos < b.Length)
        {
            if (b.Length - pos < 8)
                throw new InvalidModelFileException(path, $"token {tokens.Count}: header runs past the end of the file at offset {pos}");
            float score = BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(pos));
            int len = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(pos + 4));
            pos += 8;
            if (len < 0 || len > maxLen || len > b.Length - pos)
                throw new InvalidModelFileException(path, $"token {tokens.Count}: length {len} is negative, above max_token_length {maxLen} or past the end of the file");
            string text;
            try { text = StrictUtf8.GetString(b, pos, len); }
            catch (DecoderFallbackException) { throw new InvalidModelFileException(path, $"token {tokens.Count} at offset {pos} is not valid UTF-8"); }
            pos += len;
            tokens.Add(text);
            scores.Add(score);
        }
        if (tokens.Count < 3)
            throw new InvalidModelFileException(path, $"{tokens.Count} tokens; a llama2.c vocabulary has at least unk, BOS and EOS");
        var types = new TokenType[tokens.Count];
        for (int i = 0; i < types.Length; i++)
        {
            string t = tokens[i];
            if (i == 0) { types[i] = TokenType.Unknown; tokens[i] = "<unk>"; }
            else if (i <= 2) { types[i] = TokenType.Control; tokens[i] = i == 1 ? "<s>" : "</s>"; }
            else if (IsByteTokenText(t)) types[i] = TokenType.Byte;
            else { types[i] = TokenType.Normal; tokens[i] = t.Replace(' ', '\u2581'); }
        }
        return new TokenizerData
        {
            Model = "llama",
            Tokens = [.. tokens],
            Scores = [.. scores],
            Types = types,
            UnkId = 0,
            BosId = 1,
            EosId = 2,
            AddBos = true,
            AddSpacePrefix = true,
        }.Validate(path);
    }

    /// <summary>True for "&lt;0xHH&gt;" with two hex digits.</summary>
    internal static bool IsByteTokenText(string t) =>
        t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>'
        && char.IsAsciiHexDigit(t[3]) && char.IsAsciiHexDigit(t[4]);

    /// <summary>Protocol-buffer wire format: varint (0), 64-bit (1), length-delimited (2), 32-bit (5).</summary>
    ref struct ProtoReader(ReadOnlySpan<byte> data, string path)
    {
        readonly ReadOnlySpan<byte> _data = data;
        int _pos;

        public bool Next(out int field, out int wire)
        {
            field = wire = 0;
            if (_pos >= _data.Length) return false;
            long key = Varint();
            field = (int)(key >> 3);
            wire = (int)(key & 7);
            return true;
        }

        public long Varint()
        {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= _data.Length) throw Bad("varint runs past the end");
                byte x = _data[_pos++];
                v |= (long)(x & 0x7F) << shift;
                if ((x & 0x80) == 0) return v;
            }
            throw Bad("varint longer than 10 bytes");
        }

        public float Float()
        {
            if (_data.Length - _pos < 4) throw Bad("32-bit field runs past the end");
            float f = BinaryPrimitives.ReadSingleLittleEndian(_data[_pos..]);
            _pos += 4;
            return f;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            long len = Varint();
            if (len < 0 || len > _data.Length - _pos) throw Bad($"length {len} runs past the end");
            var s = _data.Slice(_pos, (int)len);
            _pos += (int)len;
            return s;
        }

        public ProtoReader Message() => new(Bytes(), path);

        public string String(string what)
        {
            var s = Bytes();
            try { return StrictUtf8.GetString(s); }
            catch (DecoderFallbackException) { throw Bad($"{what} is not valid UTF-8"); }
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Advance(8); break;
                case 2: Bytes(); break;
                case 5: Advance(4); break;
                default: throw Bad($"unsupported wire type {wire}");
            }
        }

        void Advance(int n)
        {
            if (_data.Length - _pos < n) throw Bad("field runs past the end");
            _pos += n;
        }

        readonly InvalidModelFileException Bad(string message) =>
            new(path, $"SentencePiece model protobuf: {message} (offset {_pos})");
    }
}
