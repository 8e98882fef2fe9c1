// Hugging Face's tokenizers library (the Rust implementation, through its Node binding in
// tools/hf-tokenizers) as a reference for tokenizer.json files: it encodes texts with a file and the
// tests compare its ids with EdgeLM's. Installed by `npm ci --prefix tools/hf-tokenizers` (.ci/run does
// it); when node or the package is missing the tests that need it are skipped, unless
// EDGELM_REQUIRE_HF_TOKENIZERS=1 (set by CI), where they fail instead.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeLM.Tests.Support;

internal static class HfTokenizers
{
    static string Tool => Path.Combine(TestData.RepoRoot, "tools", "hf-tokenizers");

    /// <summary>Why the reference cannot run here, or null when it can.</summary>
    public static string? Missing { get; } = FindMissing();

    /// <summary>Skips the calling test when the reference is not installed (fails under CI).</summary>
    public static void RequireOrSkip()
    {
        if (Missing is null) return;
        if (Environment.GetEnvironmentVariable("EDGELM_REQUIRE_HF_TOKENIZERS") == "1")
            throw new InvalidOperationException($"Hugging Face tokenizers are required here: {Missing}");
        Skip.If(true, $"Hugging Face tokenizers not available ({Missing}); run: npm ci --prefix tools/hf-tokenizers");
    }

    /// <summary>Ids (no special tokens added) and their decoding (special tokens kept) for each text, and
    /// the texts as encoded: NFC-normalized first (by JavaScript's String.normalize) when <paramref name="nfc"/>.</summary>
    public static (string[] Texts, int[][] Ids, string[] Decoded) Encode(string tokenizerJson, IReadOnlyList<string> texts, bool nfc = false)
    {
        var request = new JsonObject
        {
            ["tokenizer"] = Path.GetFullPath(tokenizerJson),
            ["texts"] = new JsonArray([.. texts.Select(t => (JsonNode?)t)]),
            ["addSpecialTokens"] = false,
            ["nfc"] = nfc,
        };
        var psi = new ProcessStartInfo("node", [Path.Combine(Tool, "encode.js")])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
            WorkingDirectory = Tool,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        // Lone surrogates are written as JSON escapes, which JavaScript strings keep as they are.
        p.StandardInput.Write(request.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Default }));
        p.StandardInput.Close();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("hf-tokenizers did not finish in 2 minutes");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"hf-tokenizers failed on {tokenizerJson}: {stderr.Result}");
        using var doc = JsonDocument.Parse(stdout.Result);
        var ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(a => a.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
        var decoded = doc.RootElement.GetProperty("decoded").EnumerateArray().Select(s => s.GetString()!).ToArray();
        var encoded = doc.RootElement.GetProperty("texts").EnumerateArray().Select(s => s.GetString()!).ToArray();
        return (encoded, ids, decoded);
    }

    static string? FindMissing()
    {
        if (!File.Exists(Path.Combine(Tool, "node_modules", "tokenizers", "package.json")))
            return $"{Path.Combine(Tool, "node_modules", "tokenizers")} is not installed";
        try
        {
            using var p = Process.Start(new ProcessStartInfo("node", ["--version"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            p.WaitForExit(10_000);
            return p.ExitCode == 0 ? null : "node --version failed";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"node is not on PATH ({e.Message})";
        }
    }
}
