// The public API on the model that ships: the README's example, reproducible sampling, stop
// strings, cancellation and a prompt longer than the context.
using EdgeLM.Inference;
using EdgeLM.Tests.Support;

namespace EdgeLM.Tests.Inference;

public class SessionTests
{
    static string ShippedModel => Path.Combine(TestData.RepoRoot, "models", "stories260K.gguf");

    [Fact]
    public async Task The_readme_example_streams_a_story()
    {
        var cancellationToken = CancellationToken.None;
        var text = new System.Text.StringBuilder();
        // --- the README example, as written there (with the model path made absolute) ---
        using var model = LanguageModel.Load(ShippedModel);
        using var session = model.CreateSession(new SessionOptions { ContextLength = 512, Threads = 2 });
        var options = new GenerationOptions
        {
            MaxTokens = 100,
            Stop = ["\n\n"],
            Sampling = new SamplingOptions { Temperature = 0.7f, TopK = 40, TopP = 0.95f, Seed = 42 },
        };
        await foreach (string piece in session.GenerateAsync("Once upon a time", options, cancellationToken))
            text.Append(piece); // README: Console.Write(piece);
        // ---
        Assert.True(text.Length > 20, text.ToString());
        Assert.DoesNotContain("\n\n", text.ToString());
    }

    [Fact]
    public void Same_seed_same_text_and_greedy_continues_the_known_story()
    {
        using var model = LanguageModel.Load(ShippedModel);
        using var a = model.CreateSession(new SessionOptions { ContextLength = 256, Threads = 1 });
        using var b = model.CreateSession(new SessionOptions { ContextLength = 256, Threads = 2 });
        var o = new GenerationOptions { MaxTokens = 60, Sampling = new SamplingOptions { Seed = 5, Temperature = 1.0f } };
        Assert.Equal(a.Generate("Lily", o), b.Generate("Lily", o));

        a.Reset();
        string expected = File.ReadAllText(TestData.File("llama2c", "stories260K.greedy200.expected.txt"));
        string greedy = a.Generate("", new GenerationOptions { MaxTokens = 30, Sampling = SamplingOptions.Greedy });
        Assert.StartsWith(greedy, expected, StringComparison.Ordinal);
        Assert.True(greedy.Length > 50);
    }

    [Fact]
    public void A_prompt_longer_than_the_context_is_refused_with_the_lengths()
    {
        using var model = LanguageModel.Load(ShippedModel);
        using var s = model.CreateSession(new SessionOptions { ContextLength = 32 });
        string prompt = string.Join(' ', Enumerable.Repeat("Lily went to the park.", 20));
        var e = Assert.Throws<InvalidOperationException>(() => s.Generate(prompt));
        Assert.Contains("context length is 32", e.Message);
    }

    [Fact]
    public async Task Cancellation_stops_generation_between_tokens()
    {
        using var model = LanguageModel.Load(ShippedModel);
        using var s = model.CreateSession(new SessionOptions { ContextLength = 512 });
        using var cts = new CancellationTokenSource();
        int pieces = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in s.GenerateAsync("Once", new GenerationOptions { MaxTokens = -1 }, cts.Token))
                if (++pieces == 5) cts.Cancel();
        });
        Assert.Equal(5, pieces);
    }

    [Fact]
    public void Generation_stops_when_the_context_is_full()
    {
        using var model = LanguageModel.Load(ShippedModel);
        using var s = model.CreateSession(new SessionOptions { ContextLength = 40 });
        s.Generate("Once", new GenerationOptions { MaxTokens = -1, Sampling = new SamplingOptions { Seed = 1, Temperature = 2f, TopK = 0, TopP = 1, MinP = 0 } });
        Assert.True(s.LastStopReason is StopReason.ContextFull or StopReason.EndOfGeneration, s.LastStopReason.ToString());
        Assert.True(s.Position <= 40);
    }
}
