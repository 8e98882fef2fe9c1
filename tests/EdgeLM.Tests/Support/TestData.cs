// Where the shared reference files are: ../shared/testdata beside the repository (or EDGELM_TESTDATA),
// and a scratch folder per test class that is removed afterwards.
namespace EdgeLM.Tests.Support;

public static class TestData
{
    static readonly Lazy<string> RootLazy = new(FindRoot);

    /// <summary>The repository root (the folder holding EdgeLM.slnx).</summary>
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !System.IO.File.Exists(Path.Combine(dir.FullName, "EdgeLM.slnx")))
                dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root (EdgeLM.slnx) not found");
        }
    }

    /// <summary>The shared testdata folder.</summary>
    public static string Root => RootLazy.Value;

    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);

    static string FindRoot()
    {
        string? env = Environment.GetEnvironmentVariable("EDGELM_TESTDATA");
        if (!string.IsNullOrEmpty(env)) return env;
        string candidate = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "testdata"));
        return Directory.Exists(candidate)
            ? candidate
            : throw new DirectoryNotFoundException($"shared testdata not found at {candidate}; set EDGELM_TESTDATA");
    }
}

/// <summary>A temporary folder, deleted on Dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgelm-test-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
