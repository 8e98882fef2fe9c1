// Runs the edgelm tool as a separate process (the built EdgeLM.Cli.dll beside the tests), so its
// stdout, stderr and exit code are what a user sees.
using System.Diagnostics;
using System.Text;

namespace EdgeLM.Tests.Support;

public sealed record CliResult(int ExitCode, string StdOut, string StdErr);

public static class CliRunner
{
    public static CliResult RunWithInput(string? stdin, params string[] args) => RunWithEnvironment(null, stdin, args);

    /// <summary>Runs with environment variables set (a null value removes the variable).</summary>
    public static CliResult RunWithEnvironment(IReadOnlyDictionary<string, string?>? environment, string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EdgeLM.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
        {
            if (v is null) psi.Environment.Remove(k);
            else psi.Environment[k] = v;
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"edgelm {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static CliResult Run(params string[] args) => RunWithInput(null, args);
}
