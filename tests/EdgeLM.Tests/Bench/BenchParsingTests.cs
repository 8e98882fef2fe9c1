// The benchmark harness's parsing and arithmetic: /proc status and cpuinfo text, options, the child's
// result line, the median and the weight bytes a decode step reads. Expected values are worked out
// by hand from the inputs, not taken from the code under test.
using EdgeLM.Bench;
using EdgeLM.Formats.Gguf;
using EdgeLM.Models;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Bench;

public class BenchParsingTests
{
    const string Status = "Name:\tEdgeLM.Bench\nVmPeak:\t 9000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   40960 kB\nRssFile:\t   61440 kB\nRssShmem:\t       0 kB\nThreads:\t4\n";

    [Fact]
    public void Proc_status_fields_are_read_in_bytes()
    {
        var m = MemoryUse.Parse(Status);
        Assert.Equal(new MemoryUse(204800L * 1024, 102400L * 1024, 40960L * 1024, 61440L * 1024), m);
    }

    [Fact]
    public void This_process_has_a_peak_rss_at_least_its_current_one()
    {
        var m = MemoryUse.Current();
        Assert.True(m.RssBytes > 0 && m.PeakRssBytes >= m.RssBytes, $"{m}");
        Assert.True(m.RssAnonBytes + m.RssFileBytes <= m.RssBytes, $"{m}");
    }

    [Fact]
    public void A_malformed_status_field_names_the_field()
    {
        var e = Assert.Throws<FormatException>(() => MemoryUse.Parse("VmHWM:\t12 MB\n"));
        Assert.Contains("VmHWM", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cpu_model_is_the_first_model_name_with_the_cpu_count_and_vector_isa()
    {
        const string info = "processor\t: 0\nmodel name\t: Some CPU 9000\nflags\t\t: fpu sse avx2 avx512f\n\nprocessor\t: 1\nmodel name\t: Some CPU 9000\n";
        Assert.Equal("Some CPU 9000 (2 logical CPUs, AVX-512)", Report.CpuModel(info));
        Assert.Null(Report.CpuModel("processor\t: 0\n"));
    }

    [Fact]
    public void Options_take_values_flags_and_negative_numbers_and_reject_unknown_ones()
    {
        var a = ArgReader.Parse(["--engine", "edgelm", "--model", "m.gguf", "-p", "64", "--long", "--json"]);
        var o = RunOneOptions.Parse(a);
        Assert.True(a.Flag("--json"));
        Assert.Equal(("edgelm", "m.gguf", 64, true, 2048 + 128 + 16), (o.Engine, o.Model, o.Prompt, o.Long, o.ContextLength));
        // "-3" is read as the value of --seed (not as an option), then rejected as a count.
        var n = Assert.Throws<ArgumentException>(() => RunOneOptions.Parse(ArgReader.Parse(["--engine", "edgelm", "--model", "m", "--seed", "-3"])));
        Assert.Contains("'-3'", n.Message, StringComparison.Ordinal);
        var b = ArgReader.Parse(["--engine", "edgelm", "--model", "m", "--treads", "2"]);
        RunOneOptions.Parse(b);
        var e = Assert.Throws<ArgumentException>(() => b.RejectUnknown("run-one"));
        Assert.Contains("--treads", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_one_options_survive_the_trip_to_a_child_command_line()
    {
        var o = new RunOneOptions("llamacpp", "/x/m.gguf", 2, Prompt: 100, Decode: 7, DecodePrompt: 3, Repeats: 2, MaxBatch: 32, Long: true, LongContext: 300, Seed: 9, PeerMmap: false);
        var args = o.ToArgs().ToArray();
        Assert.Equal("run-one", args[0]);
        var a = ArgReader.Parse(args[1..]);
        Assert.Equal(o, RunOneOptions.Parse(a));
        Assert.True(a.Flag("--json"));
        Assert.True(RunOneOptions.Parse(ArgReader.Parse(["--engine", "llamacpp", "--model", "m"])).PeerMmap);
        var e = Assert.Throws<ArgumentException>(() => RunOneOptions.Parse(ArgReader.Parse(["--engine", "llamacpp", "--model", "m", "--llamacpp-mmap", "yes"])));
        Assert.Contains("0 or 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_child_result_line_is_found_among_log_lines_and_a_failure_keeps_the_stderr_tail()
    {
        var r = new RunOneResult
        {
            Engine = "edgelm",
            Model = "m",
            Threads = 1,
            LoadMs = 5,
            PromptTokens = 4,
            PrefillTokensPerSecond = 10,
            PrefillSamples = [9, 10, 11],
            DecodeTokens = 2,
            DecodeStart = 3,
            DecodeTokensPerSecond = double.NaN,
            DecodeSamples = [1],
            Batch = 8,
            KvCacheBytes = 64,
            Memory = new MemoryUse(4, 3, 2, 1),
            DecodeAllocatedBytes = 0,
            FirstDecodedTokens = [5, 6],
        };
        var back = ChildProcess.ParseResult($"log line\n{ChildProcess.ResultPrefix}{r.ToJson()}\n", "", 0);
        Assert.Equal(r.PrefillSamples, back.PrefillSamples);
        Assert.Equal(r with { PrefillSamples = back.PrefillSamples, DecodeSamples = back.DecodeSamples, FirstDecodedTokens = back.FirstDecodedTokens, DecodeAllocatedPerRepeat = back.DecodeAllocatedPerRepeat }, back);
        var e = Assert.Throws<InvalidOperationException>(() => ChildProcess.ParseResult("", "a\nb\nerror: NotSupportedException: no Q8_0\n", 1));
        Assert.Contains("no Q8_0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rounds_pool_every_sample_before_the_medians()
    {
        RunOneResult Round(double load, double[] prefill, double[] decode, long peak, long alloc) => new()
        {
            Engine = "edgelm",
            Model = "m",
            Threads = 2,
            LoadMs = load,
            PromptTokens = 4,
            PrefillTokensPerSecond = Stats.Median(prefill),
            PrefillSamples = prefill,
            DecodeTokens = 2,
            DecodeStart = 3,
            DecodeTokensPerSecond = Stats.Median(decode),
            DecodeSamples = decode,
            Batch = 8,
            KvCacheBytes = 64,
            Memory = new MemoryUse(peak, 3, 2, 1),
            DecodeAllocatedBytes = alloc,
            DecodeAllocatedPerRepeat = [alloc],
            FirstDecodedTokens = [(int)load],
        };
        var merged = Compare.Merge([Round(10, [1, 2], [30, 10], 500, 0), Round(30, [3, 4], [20, 40], 700, 8), Round(20, [5, 6], [50, 60], 600, 0)]);
        // prefill 1..6: median 3.5 (each round's own medians 1.5, 3.5, 5.5 would give 3.5 too); decode 10, 20, 30, 40, 50, 60: 35
        Assert.Equal(3.5, merged.PrefillTokensPerSecond);
        Assert.Equal(35, merged.DecodeTokensPerSecond);
        Assert.Equal([30, 10, 20, 40, 50, 60], merged.DecodeSamples);
        Assert.Equal(20, merged.LoadMs);
        Assert.Equal(700, merged.Memory.PeakRssBytes);
        Assert.Equal(8, merged.DecodeAllocatedBytes);
        Assert.Equal([20], merged.FirstDecodedTokens);
        var one = Round(1, [2], [3], 4, 0);
        Assert.Same(one, Compare.Merge([one]));

        Assert.Equal(3, CompareOptions.Parse(ArgReader.Parse(["--rounds", "3"])).Rounds);
        Assert.Equal(1, CompareOptions.Parse(ArgReader.Parse([])).Rounds);
        Assert.Throws<ArgumentException>(() => CompareOptions.Parse(ArgReader.Parse(["--rounds", "0"])));
    }

    [Fact]
    public void Median_and_roofline()
    {
        Assert.Equal(3, Stats.Median([5, 1, 3]));
        Assert.Equal(2.5, Stats.Median([4, 1, 3, 2]));
        // 20 GB/s over 2 GB per token is 10 tok/s at the ceiling; 5 tok/s is half of it.
        Assert.Equal(0.5, Stats.RooflineFraction(5, 20e9, 2_000_000_000), 12);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Bytes_per_token_count_every_matrix_once_and_one_embedding_row(bool tied)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        var s = new RandomModelShape("qwen2", Dim: 64, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: 16, Ffn: 96, Vocab: 300, Tied: tied);
        RandomModel.Write(path, s);
        // Per layer, F32: attn_norm 64, q 64×64 + bias 64, k and v 64×32 + bias 32 each, o 64×64, ffn_norm 64, gate/up/down 64×96 each.
        long layer = 64 + (64 * 64 + 64) + 2 * (64 * 32 + 32) + 64 * 64 + 64 + 3 * 64 * 96;
        long expected = 4 * (2 * layer + 64 /* output_norm */ + 64 /* one embedding row */ + 300L * 64 /* the head */);
        using var src = GgufModelSource.Open(path);
        Assert.Equal(expected, BenchModels.BytesPerToken(src.Tensors));
    }
}
