using EdgeLM.Inference;

namespace EdgeLM.Tests.Inference;

public class SamplerTests
{
    static float[] Logits(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => r.NextSingle() * 8).ToArray();
    }

    [Fact]
    public void Greedy_picks_the_largest_logit()
    {
        var l = Logits(1000, 1);
        var s = new Sampler(SamplingOptions.Greedy, l.Length);
        Assert.Equal(Array.IndexOf(l, l.Max()), s.Sample(l, []));
    }

    [Fact]
    public void Same_seed_gives_the_same_tokens_and_another_seed_differs()
    {
        var l = Logits(500, 2);
        int[] Run(int seed)
        {
            var s = new Sampler(new SamplingOptions { Seed = seed, Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0 }, l.Length);
            return Enumerable.Range(0, 50).Select(_ => s.Sample(l, [])).ToArray();
        }
        Assert.Equal(Run(42), Run(42));
        Assert.NotEqual(Run(42), Run(43));
    }

    [Fact]
    public void Top_k_one_is_greedy_and_top_k_limits_the_choice()
    {
        var l = Logits(300, 3);
        var top5 = l.Select((v, i) => (v, i)).OrderByDescending(p => p.v).Take(5).Select(p => p.i).ToHashSet();
        var s1 = new Sampler(new SamplingOptions { TopK = 1, Temperature = 5, Seed = 1 }, l.Length);
        var s5 = new Sampler(new SamplingOptions { TopK = 5, Temperature = 50, TopP = 1, MinP = 0, Seed = 1 }, l.Length);
        var seen = new HashSet<int>();
        for (int i = 0; i < 500; i++)
        {
            Assert.Equal(Array.IndexOf(l, l.Max()), s1.Sample(l, []));
            seen.Add(s5.Sample(l, []));
        }
        Assert.Subset(top5, seen);
        Assert.Equal(5, seen.Count); // at temperature 50 all five show up in 500 draws
    }

    [Fact]
    public void Top_p_and_min_p_drop_the_unlikely_tail()
    {
        // Two likely tokens and a long flat tail far below them.
        var l = Enumerable.Repeat(0f, 100).ToArray();
        l[7] = 10; l[9] = 9.9f;
        foreach (var o in new[] { new SamplingOptions { TopK = 0, TopP = 0.9f, MinP = 0, Temperature = 1, Seed = 3 },
                                  new SamplingOptions { TopK = 0, TopP = 1, MinP = 0.01f, Temperature = 1, Seed = 3 } })
        {
            var s = new Sampler(o, l.Length);
            var seen = Enumerable.Range(0, 300).Select(_ => s.Sample(l, [])).ToHashSet();
            Assert.Subset(new HashSet<int> { 7, 9 }, seen);
        }
    }

    [Fact]
    public void Sampling_follows_the_softmax_distribution()
    {
        float[] l = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.2f)];
        var s = new Sampler(new SamplingOptions { TopK = 0, TopP = 1, MinP = 0, Temperature = 1, Seed = 9 }, 3);
        var counts = new int[3];
        const int N = 20000;
        for (int i = 0; i < N; i++) counts[s.Sample(l, [])]++;
        Assert.InRange(counts[0] / (double)N, 0.48, 0.52);
        Assert.InRange(counts[1] / (double)N, 0.28, 0.32);
        Assert.InRange(counts[2] / (double)N, 0.18, 0.22);
    }

    [Fact]
    public void Penalties_lower_recently_seen_tokens()
    {
        float[] l = [5, 4.9f, -1];
        var greedy = new Sampler(new SamplingOptions { Temperature = 0, RepeatPenalty = 1.1f }, 3);
        Assert.Equal(1, greedy.Sample(l, [0]));          // 5 / 1.1 < 4.9
        Assert.Equal(0, greedy.Sample(l, [2]));
        var presence = new Sampler(new SamplingOptions { Temperature = 0, PresencePenalty = 0.2f }, 3);
        Assert.Equal(1, presence.Sample(l, [0, 0, 0]));
        var frequency = new Sampler(new SamplingOptions { Temperature = 0, FrequencyPenalty = 0.05f }, 3);
        Assert.Equal(0, frequency.Sample(l, [0]));        // 5 - 0.05 > 4.9
        Assert.Equal(1, frequency.Sample(l, [0, 0, 0]));  // 5 - 0.15 < 4.9
    }

    [Fact]
    public void Invalid_settings_are_refused_by_name()
    {
        Assert.Contains("top-p", Assert.Throws<ArgumentException>(() => new Sampler(new SamplingOptions { TopP = 0 }, 10)).Message);
        Assert.Contains("top-k", Assert.Throws<ArgumentException>(() => new Sampler(new SamplingOptions { TopK = -1 }, 10)).Message);
    }
}
