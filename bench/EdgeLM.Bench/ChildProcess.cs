// Runs "run-one" in a child process, so that each engine's peak resident memory is its own and
// one engine's mapped pages or native heap never count against the other. The child prints one
// line "RESULT {json}"; everything else it writes (llama.cpp logs to stderr) is kept only for
// the error message if it fails.
using System.Diagnostics;
using System.Reflection;

namespace EdgeLM.Bench;

public static class ChildProcess
{
    public const string ResultPrefix = "RESULT ";
    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(30);

    /// <summary>Runs this program again with <paramref name="args"/> and parses its result line.</summary>
    public static RunOneResult RunOne(RunOneOptions o)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Started as "dotnet EdgeLM.Bench.dll": the host needs the assembly path first.
        if (Path.GetFileNameWithoutExtension(psi.FileName) == "dotnet")
            psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (var a in o.ToArgs()) psi.ArgumentList.Add(a);

        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the benchmark child process");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"run-one {o.Engine} on {o.Model} took longer than {Timeout.TotalMinutes} min");
        }
        p.WaitForExit();
        return ParseResult(stdout.Result, stderr.Result, p.ExitCode);
    }

    /// <summary>The result line of a child's output, or an exception carrying the tail of its stderr.</summary>
    public static RunOneResult ParseResult(string stdout, string stderr, int exitCode)
    {
        foreach (var line in stdout.Split('\n'))
            if (exitCode == 0 && line.StartsWith(ResultPrefix, StringComparison.Ordinal))
                return RunOneResult.FromJson(line[ResultPrefix.Length..]);
        string tail = string.Join(" | ", stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
        throw new InvalidOperationException($"run-one exited with {exitCode} and no result: {tail}");
    }
}
