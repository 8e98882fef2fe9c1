// The registry: general.architecture → how to build the model. Adding an architecture is one folder
// with its spec plus one line here.
using EdgeLM.Formats;

namespace EdgeLM.Models;

/// <summary>What distinguishes one llama-family architecture from another.</summary>
/// <param name="Name">general.architecture as written in GGUF.</param>
/// <param name="RopeNeox">llama.cpp's rope type for this architecture: NeoX (rotate halves) or normal (pairs).</param>
/// <param name="Layer">Which optional per-layer tensors the architecture requires.</param>
public sealed record ArchitectureSpec(string Name, bool RopeNeox, DecoderWeights.Options Layer);

public static class Architectures
{
    static readonly ArchitectureSpec[] Registry =
    [
        Llama.LlamaArchitecture.Spec,
        Qwen2.Qwen2Architecture.Spec,
        Qwen3.Qwen3Architecture.Spec,
    ];

    public static IEnumerable<string> Supported => Registry.Select(a => a.Name);

    public static ArchitectureSpec Get(string path, string? name) =>
        Array.Find(Registry, a => a.Name == name)
        ?? throw new InvalidModelFileException(path,
            name is null ? "metadata key 'general.architecture' is missing"
            : $"architecture '{name}' is not supported (supported: {string.Join(", ", Supported)})");
}
