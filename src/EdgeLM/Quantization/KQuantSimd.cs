// SIMD dots of Q4_K and Q6_K weights against Q8_K activations, and the fast Q8_K activation quantizer.
// Each super-block's integer sum is exact and reduced once, then combined in the same float
// expression as the scalar reference, so every width is bit-identical to the scalar dot.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeLM.Quantization;

[SkipLocalsInit]
internal static unsafe class Q4_KSimd
{
    public static delegate*<byte*, byte*, int, float> Resolve(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => &KQuantAvx512.DotQ4_K,
        SimdLevel.Vector256 => &Dot256,
        _ => &Dot128,
    };

    /// <summary>Scales, mins and the min correction (sum of m * bsums) of one super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Prologue(BlockQ4_K* x, BlockQ8_K* y, int* sc)
    {
        int summs = 0;
        for (int g = 0; g < 8; g++)
        {
            KQuantSearch.GetScaleMinK4(g, x->Scales, out sc[g], out int m);
            summs += m * (y->Bsums[2 * g] + y->Bsums[2 * g + 1]);
        }
        return summs;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Combine(BlockQ4_K* x, BlockQ8_K* y, int isum, int summs) =>
        QuantMath.HalfToFloat(x->D) * y->D * isum - QuantMath.HalfToFloat(x->Dmin) * y->D * summs;

    static float Dot128(byte* w, byte* a, int n)
    {
        int* sc = stackalloc int[8];
        float sumf = 0;
        var mask = Vector128.Create((byte)0x0F);
        for (int i = 0; i < n / 256; i++)
        {
            var x = (BlockQ4_K*)w + i;
            var y = (BlockQ8_K*)a + i;
            int summs = Prologue(x, y, sc);
            var acc = Vector128<int>.Zero;
            for (int j = 0; j < 4; j++)
            {
                for (int half = 0; half < 2; half++)
                {
                    var q = Vector128.Load(x->Qs + 32 * j + 16 * half);
                    var ylo = Vector128.Load(y->Qs + 64 * j + 16 * half);
                    var yhi = Vector128.Load(y->Qs + 64 * j + 32 + 16 * half);
                    acc += IntDot.Dot((q & mask).AsSByte(), ylo) * sc[2 * j];
                    acc += IntDot.Dot(Vector128.ShiftRightLogical(q, 4).AsSByte(), yhi) * sc[2 * j + 1];
                }
            }
            sumf += Combine(x, y, Vector128.Sum(acc), summs);
        }
        return sumf;
    }

    static float Dot256(byte* w, byte* a, int n)
    {
        int* sc = stackalloc int[8];
        float sumf = 0;
        var mask = Vector256.Create((byte)0x0F);
        for (int i = 0; i < n / 256; i++)
        {
            var x = (BlockQ4_K*)w + i;
            var y = (BlockQ8_K*)a + i;
            int summs = Prologue(x, y, sc);
            var acc = Vector256<int>.Zero;
            for (int j = 0; j < 4; j++)
            {
                // Weights are unsigned nibbles, so vpmaddubsw takes them directly (no sign trick), and
                // the second vpmaddwd multiplies by the group scale while widening to 32 bits.
                var q = Vector256.Load(x->Qs + 32 * j);
                acc += IntDot.DotUnsigned(q & mask, Vector256.Load(y->Qs + 64 * j), Vector256.Create((short)sc[2 * j]));
                acc += IntDot.DotUnsigned(Vector256.ShiftRightLogical(q, 4), Vector256.Load(y->Qs + 64 * j + 32), Vector256.Create((short)sc[2 * j + 1]));
            }
            sumf += Combine(x, y, Vector256.Sum(acc), summs);
        }
        return sumf;
    }

}

[SkipLocalsInit]
internal static unsafe class Q6_KSimd
{
    public static delegate*<byte*, byte*, int, float> Resolve(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => &KQuantAvx512.DotQ6_K,
        SimdLevel.Vector256 => &Dot256,
        _ => &Dot128,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Combine(BlockQ6_K* x, BlockQ8_K* y, int isum) => QuantMath.HalfToFloat(x->D) * y->D * isum;

    /// <summary>Quarter r (32 lanes) of half h as signed 6-bit values: 4 bits from ql (low nibble for
    /// r = 0, 1, high for 2, 3), 2 bits from qh (bits 2r, 2r+1), minus 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<sbyte> Quarter128(BlockQ6_K* x, int h, int r, int half)
    {
        var ql = Vector128.Load(x->Ql + 64 * h + 32 * (r & 1) + 16 * half);
        var qh = Vector128.Load(x->Qh + 32 * h + 16 * half);
        var lo = Vector128.ShiftRightLogical(ql, 4 * (r >> 1)) & Vector128.Create((byte)0x0F);
        var hi = Vector128.ShiftLeft(Vector128.ShiftRightLogical(qh, 2 * r) & Vector128.Create((byte)3), 4);
        return (lo | hi).AsSByte() - Vector128.Create((sbyte)32);
    }

    static float Dot128(byte* w, byte* a, int n)
    {
        float sumf = 0;
        for (int i = 0; i < n / 256; i++)
        {
            var x = (BlockQ6_K*)w + i;
            var y = (BlockQ8_K*)a + i;
            var acc = Vector128<int>.Zero;
            for (int e = 0; e < 256; e += 16)
            {
                int h = e / 128, r = (e % 128) / 32, half = (e % 32) / 16;
                acc += IntDot.Dot(Quarter128(x, h, r, half), Vector128.Load(y->Qs + e)) * x->Scales[e / 16];
            }
            sumf += Combine(x, y, Vector128.Sum(acc));
        }
        return sumf;
    }

    static float Dot256(byte* w, byte* a, int n)
    {
        float sumf = 0;
        for (int i = 0; i < n / 256; i++)
        {
            var x = (BlockQ6_K*)w + i;
            var y = (BlockQ8_K*)a + i;
            var acc = Vector256<int>.Zero;
            for (int e = 0; e < 256; e += 32)
            {
                int h = e / 128, r = (e % 128) / 32;
                var q = Vector256.Create(Quarter128(x, h, r, 0), Quarter128(x, h, r, 1));
                // Int lanes 0..3 hold elements 0..15 (scale e/16), lanes 4..7 elements 16..31.
                var s = Vector256.Create(Vector128.Create((int)x->Scales[e / 16]), Vector128.Create((int)x->Scales[e / 16 + 1]));
                acc += IntDot.Dot(q, Vector256.Load(y->Qs + e)) * s;
            }
            sumf += Combine(x, y, Vector256.Sum(acc));
        }
        return sumf;
    }

}

[SkipLocalsInit]
internal static unsafe class Q8_KSimd
{
    /// <summary>Q8_K.Quantize with the abs-max search, the multiply and the rounding 8 lanes at a time.
    /// Vector.Round is ties-to-even, the same as ggml's nearest_int; min(127, .) and the 16-sums
    /// follow. The signed max is the first element reaching amax, found with a lane mask, as the
    /// scalar loop's strict '>' keeps the first.</summary>
    public static void Quantize(float* x, BlockQ8_K* y, int k, SimdLevel level)
    {
        if (level < SimdLevel.Vector256 || !Vector256.IsHardwareAccelerated)
        {
            Q8_K.Quantize(x, y, k);
            return;
        }
        for (int i = 0; i < k / 256; i++, x += 256)
        {
            var m = Vector256<float>.Zero;
            for (int j = 0; j < 256; j += 8) m = Vector256.Max(m, Vector256.Abs(Vector256.Load(x + j)));
            float amax = Q8_0Simd.HMax(m);
            if (amax == 0)
            {
                new Span<byte>(&y[i], sizeof(BlockQ8_K)).Clear();
                continue;
            }
            float max = 0;
            var target = Vector256.Create(amax);
            for (int j = 0; j < 256; j += 8)
            {
                uint hits = Vector256.Equals(Vector256.Abs(Vector256.Load(x + j)), target).ExtractMostSignificantBits();
                if (hits != 0) { max = x[j + System.Numerics.BitOperations.TrailingZeroCount(hits)]; break; }
            }
            float iscale = -127f / max;
            var vs = Vector256.Create(iscale);
            var cap = Vector256.Create(127);
            for (int j = 0; j < 256; j += 16)
            {
                var q0 = Vector256.Min(Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + j) * vs)), cap);
                var q1 = Vector256.Min(Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + j + 8) * vs)), cap);
                y[i].Bsums[j / 16] = (short)Vector256.Sum(q0 + q1);
                var s16 = Vector256.Narrow(q0, q1);
                Vector128.Store(Vector128.Narrow(s16.GetLower(), s16.GetUpper()), y[i].Qs + j);
            }
            y[i].D = 1 / iscale;
        }
    }
}
