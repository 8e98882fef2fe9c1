// The harness of the bad-file corpus: generates corrupted variants of a valid file (truncation,
// seeded random byte mutations, huge values written at every header offset, number tokens in
// JSON replaced by extreme ones) and opens each with a reader, on a worker thread under a time
// limit. Every variant must either open (and then every tensor byte must be readable) or throw
// InvalidModelFileException naming the file; any other exception, a hang, or a managed
// allocation out of proportion to the file fails the test with the variant's description.
using System.Text;
using System.Text.RegularExpressions;
using EdgeLM.Formats;
using EdgeLM.Models;

namespace EdgeLM.Tests.Formats;

/// <summary>One corrupted variant: what was done, and the bytes.</summary>
public sealed record Variant(string What, byte[] Bytes);

/// <summary>How a corpus run went: variants opened and refused, and the most one open allocated.</summary>
public sealed record CorpusResult(int Opened, int Refused, long MaxAllocated)
{
    public int Count => Opened + Refused;
    public override string ToString() => $"{Count} variants: {Opened} opened, {Refused} refused; most managed bytes allocated by one open: {MaxAllocated}";
}

public static partial class BadFileCorpus
{
    /// <summary>Values that break naive readers when read as a count, length, offset or type.</summary>
    static readonly ulong[] HugeValues = [1UL << 63, 1UL << 32, ulong.MaxValue, 0xFFFFFFFFUL, 0x80000000UL, 0x7FFFFFFFUL];

    /// <summary>Replacement tokens for numbers in JSON headers and configs.</summary>
    static readonly string[] JsonNumbers = ["18446744073709551616", "9223372036854775807", "4294967296", "-1", "0", "1e308", "0.5", "\"7\"", "null", "[]"];

    public static IEnumerable<Variant> Truncations(byte[] valid, int everyByteUpTo, int stepAfter)
    {
        for (int n = 0; n < valid.Length; n += n < everyByteUpTo ? 1 : stepAfter)
            yield return new($"truncated to {n} bytes", valid[..n]);
        yield return new("one byte appended", [.. valid, 0]);
    }

    public static IEnumerable<Variant> RandomMutations(byte[] valid, int count, int seed, int limitTo = int.MaxValue)
    {
        var rng = new Random(seed);
        int span = Math.Min(valid.Length, limitTo);
        for (int i = 0; i < count; i++)
        {
            byte[] b = (byte[])valid.Clone();
            int edits = rng.Next(1, 5);
            var sb = new StringBuilder($"random mutation {i}:");
            for (int e = 0; e < edits; e++)
            {
                int at = rng.Next(span);
                b[at] = (rng.Next(3)) switch
                {
                    0 => (byte)rng.Next(256),
                    1 => (byte)(b[at] ^ (1 << rng.Next(8))),
                    _ => 0xFF,
                };
                sb.Append($" [{at}]={b[at]:X2}");
            }
            yield return new(sb.ToString(), b);
        }
    }

    /// <summary>Each huge value written as u64 and u32 at every offset in [from, to).</summary>
    public static IEnumerable<Variant> HugeFields(byte[] valid, int from, int to)
    {
        for (int at = from; at < Math.Min(to, valid.Length); at++)
        {
            foreach (ulong v in HugeValues)
            {
                if (at + 8 <= valid.Length)
                {
                    byte[] b = (byte[])valid.Clone();
                    BitConverter.GetBytes(v).CopyTo(b, at);
                    yield return new($"u64 {v} at {at}", b);
                }
                if (at + 4 <= valid.Length && v <= uint.MaxValue)
                {
                    byte[] b = (byte[])valid.Clone();
                    BitConverter.GetBytes((uint)v).CopyTo(b, at);
                    yield return new($"u32 {v} at {at}", b);
                }
            }
        }
    }

    /// <summary>Every number in a JSON text replaced, one at a time, by each extreme token. The text
    /// starts at <paramref name="textOffset"/> and is <paramref name="textLength"/> bytes;
    /// <paramref name="rebuild"/> turns new text back into a file (e.g. with a new length prefix).</summary>
    public static IEnumerable<Variant> JsonNumberSwaps(string text, Func<string, byte[]> rebuild)
    {
        foreach (Match m in NumberToken().Matches(text))
        {
            foreach (string repl in JsonNumbers)
                yield return new($"JSON number '{m.Value}' at {m.Index} -> {repl}", rebuild(text[..m.Index] + repl + text[(m.Index + m.Length)..]));
        }
    }

    [GeneratedRegex(@"-?\d+(\.\d+)?([eE][-+]?\d+)?")]
    private static partial Regex NumberToken();

    /// <summary>Managed bytes a refused or accepted open may allocate: a fixed allowance for exception
    /// messages and parsing state, plus a multiple of the file size (JSON documents, metadata arrays).
    /// A reader that sized an allocation from a corrupted count would blow far past this.</summary>
    public static long AllocationBound(long fileBytes) => (1L << 20) + 16 * fileBytes;

    /// <summary>Writes each variant to <paramref name="path"/> (via <paramref name="place"/>) and opens it.</summary>
    public static CorpusResult Run(IEnumerable<Variant> variants, string path, Action<Variant> place, Func<IModelSourceOrFile> open,
        string nameInMessage, TimeSpan timeout)
    {
        var failures = new List<string>();
        int opened = 0, refused = 0;
        long maxAllocated = 0;
        string current = "";
        var worker = new Thread(() =>
        {
            foreach (var v in variants)
            {
                current = v.What;
                place(v);
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    using var x = open();
                    x.TouchAll();
                    opened++;
                }
                catch (InvalidModelFileException e)
                {
                    refused++;
                    if (!e.Message.Contains(nameInMessage, StringComparison.Ordinal))
                        failures.Add($"{v.What}: message does not name {nameInMessage}: {e.Message}");
                }
                catch (Exception e)
                {
                    failures.Add($"{v.What}: {e.GetType().Name}: {e.Message}");
                }
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                maxAllocated = Math.Max(maxAllocated, allocated);
                if (allocated > AllocationBound(v.Bytes.Length))
                    failures.Add($"{v.What}: allocated {allocated} bytes for a {v.Bytes.Length}-byte file");
                if (failures.Count >= 20) break;
            }
        }, 16 << 20);
        worker.Start();
        if (!worker.Join(timeout))
            Assert.Fail($"{path}: still running after {timeout.TotalSeconds} s, at variant '{current}' (a hang?)");
        Assert.True(failures.Count == 0, $"{failures.Count} bad outcomes ({opened} opened, {refused} refused):\n" + string.Join("\n", failures));
        return new CorpusResult(opened, refused, maxAllocated);
    }
}

/// <summary>What an opened variant is: a file reader or a model source, with its views read in full.</summary>
public interface IModelSourceOrFile : IDisposable
{
    void TouchAll();
}

public sealed class SourceProbe(IModelSource source) : IModelSourceOrFile
{
    public void TouchAll()
    {
        // Reading every byte proves each view lies inside the mapping: a wild pointer would crash here.
        int sum = 0;
        foreach (var t in source.Tensors)
        {
            foreach (byte b in t.Bytes) sum += b;
        }
        GC.KeepAlive(sum);
    }

    public void Dispose() => source.Dispose();
}
