// One tiny uninterrupted training run shared by the run tests: the reference loss curve that
// resumed and cancelled runs must reproduce, and the outputs every run must write.
using System.Globalization;
using EdgeLM.Tests.Support;
using EdgeLM.Training.Run;

namespace EdgeLM.Tests.Training;

public sealed class RunFixture : IDisposable
{
    public const int Steps = 12;

    public RunFixture()
    {
        Data = Dir.File("shakespeare.txt");
        // 24 KB: about 21,600 training and 2,400 validation byte tokens, many windows of 32.
        var text = File.ReadAllBytes(TestData.File("corpus", "en", "tinyshakespeare.txt"))[..24_000];
        File.WriteAllBytes(Data, text);
        Reference = TrainingRun.Run(Config("reference"), resume: false);
        ReferenceRows = ReadRows(Path.Combine(Dir.Path, "reference", TrainingRun.MetricsName));
    }

    public TempDir Dir { get; } = new();
    public string Data { get; }
    public RunResult Reference { get; }
    public MetricsRow[] ReferenceRows { get; }

    /// <summary>A 1-layer llama of width 32 on bytes: ~25k parameters, a few ms a step.</summary>
    public RunConfig Config(string run) => new()
    {
        Data = Data,
        Out = Path.Combine(Dir.Path, run),
        Arch = "llama",
        Layers = 1,
        Dim = 32,
        Heads = 4,
        KvHeads = 2,
        Ffn = 64,
        Ctx = 32,
        Tied = false,
        Steps = Steps,
        Batch = 4,
        GradAccum = 2,
        Lr = 5e-3f,
        Warmup = 3,
        Seed = 7,
        Threads = 2,
        EvalEvery = 4,
        EvalBatches = 2,
        SaveEvery = 4,
        Keep = 2,
    };

    public static MetricsRow[] ReadRows(string path)
    {
        var lines = File.ReadAllLines(path);
        Assert.Equal(MetricsLog.Header, lines[0]);
        return [.. lines.Skip(1).Select((l, i) => MetricsLog.Parse(l, path, i + 2))];
    }

    public static string Invariant(float f) => f.ToString("R", CultureInfo.InvariantCulture);

    public void Dispose() => Dir.Dispose();
}
