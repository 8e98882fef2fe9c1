// Every file EdgeLM writes goes through here: written under a temporary name beside the target,
// flushed to disk, then renamed over it, so a crash, Ctrl+C or full disk never leaves a
// half-written model, tokenizer or checkpoint where a good one is expected.
namespace EdgeLM.Formats;

public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string tmp = full + $".tmp{Environment.ProcessId}";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(fs);
                fs.Flush(true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Runs <paramref name="write"/> and checks it wrote exactly <paramref name="expected"/> bytes
    /// (a tensor's size as its header promised).</summary>
    public static void WriteExactly(Stream stream, string what, long expected, Action<Stream> write)
    {
        long start = stream.Position;
        write(stream);
        long written = stream.Position - start;
        if (written != expected)
            throw new InvalidOperationException($"{what}: wrote {written} bytes, expected {expected}");
    }
}
