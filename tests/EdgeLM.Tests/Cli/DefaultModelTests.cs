// `edgelm run` and `edgelm chat` with no MODEL: $EDGELM_MODEL when set, else the model bundled
// beside the tool (models/edgelm-fortunes.gguf, copied from the repository's models/ at build).
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Cli;

public class DefaultModelTests
{
    static string Stories => Path.Combine(RepoModels(), "stories260K.gguf");

    static string RepoModels()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "models", "stories260K.gguf"))) return Path.Combine(d.FullName, "models");
        throw new DirectoryNotFoundException("models/ of the repository not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Run_without_a_model_uses_EDGELM_MODEL()
    {
        var explicitRun = CliRunner.Run("run", Stories, "--temp", "0", "-n", "24");
        var implicitRun = CliRunner.RunWithEnvironment(new Dictionary<string, string?> { ["EDGELM_MODEL"] = Stories }, null, "run", "--temp", "0", "-n", "24");
        Assert.Equal(0, explicitRun.ExitCode);
        Assert.Equal(0, implicitRun.ExitCode);
        Assert.Equal(explicitRun.StdOut, implicitRun.StdOut);
    }

    [Fact]
    public void A_missing_EDGELM_MODEL_is_a_clear_error()
    {
        var r = CliRunner.RunWithEnvironment(new Dictionary<string, string?> { ["EDGELM_MODEL"] = "/nonexistent/model.gguf" }, null, "run", "-n", "4");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("/nonexistent/model.gguf", r.StdErr);
    }

    [Fact]
    public void Run_and_chat_without_a_model_use_the_bundled_model()
    {
        string bundled = Path.Combine(AppContext.BaseDirectory, "models", "edgelm-fortunes.gguf");
        Assert.True(File.Exists(bundled), $"the bundled model is not copied beside the tool: {bundled}");
        var none = new Dictionary<string, string?> { ["EDGELM_MODEL"] = null };
        var implicitRun = CliRunner.RunWithEnvironment(none, null, "run", "-p", "The", "--temp", "0", "-n", "16");
        var explicitRun = CliRunner.Run("run", Path.Combine(RepoModels(), "edgelm-fortunes.gguf"), "-p", "The", "--temp", "0", "-n", "16");
        Assert.True(implicitRun.ExitCode == 0, implicitRun.StdErr);
        Assert.Equal(explicitRun.StdOut, implicitRun.StdOut);
        Assert.True(implicitRun.StdOut.Trim().Length > "The".Length, $"no text generated: '{implicitRun.StdOut}'");

        var chat = CliRunner.RunWithEnvironment(none, "hello\n", "chat", "--temp", "0", "-n", "8");
        Assert.True(chat.ExitCode == 0, chat.StdErr);
    }
}
