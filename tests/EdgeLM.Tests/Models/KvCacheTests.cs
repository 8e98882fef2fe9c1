// KvCache.AllFinite: the attention kernels' licence to widen F16 with the conversion that is exact for finite
// values only. It must turn false as soon as an F16 key or value of that layer overflows to infinity or is
// NaN, stay false, and concern that layer alone.
using EdgeLM.Models;
using EdgeLM.Tensors;

namespace EdgeLM.Tests.Models;

public class KvCacheTests
{
    [Fact]
    public void A_layer_that_stores_an_infinity_or_nan_in_f16_is_no_longer_all_finite()
    {
        const int kvDim = 64, layers = 3;
        using var cache = new KvCache(layers, contextLength: 8, kvDim, headDim: 32);
        var finite = Enumerable.Range(0, kvDim).Select(i => (i - 32) * 2047f + 0.3f).ToArray(); // -65,503.7 rounds to -65,504, the largest finite
        cache.Store(0, 0, 1, finite, finite);
        cache.Store(1, 0, 1, finite, finite);
        cache.Store(2, 0, 1, finite, finite);
        Assert.All(Enumerable.Range(0, layers), l => Assert.True(cache.AllFinite(l)));

        var overflow = (float[])finite.Clone();
        overflow[5] = 65520f; // the first float that rounds to infinity in F16
        cache.Store(1, 1, 1, overflow, finite); // a key
        var nan = (float[])finite.Clone();
        nan[63] = float.NaN;
        cache.Store(2, 1, 1, finite, nan); // a value
        Assert.True(cache.AllFinite(0));
        Assert.False(cache.AllFinite(1));
        Assert.False(cache.AllFinite(2));

        cache.Store(1, 1, 1, finite, finite); // overwriting the position does not clear it
        Assert.False(cache.AllFinite(1));
    }

    [Fact]
    public void An_f32_cache_holds_infinities_as_they_are_and_stays_all_finite_for_the_f16_kernels()
    {
        using var cache = new KvCache(1, contextLength: 4, kvDim: 32, headDim: 32, GgmlType.F32, GgmlType.F32);
        var x = new float[32];
        x[0] = float.PositiveInfinity;
        cache.Store(0, 0, 1, x, x);
        Assert.True(cache.AllFinite(0)); // nothing in this cache is widened from F16
    }
}
