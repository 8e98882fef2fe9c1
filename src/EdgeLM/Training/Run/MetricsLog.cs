// metrics.csv of a run folder: one row per optimizer step (step = steps completed), validation
// columns filled at evaluation steps only. Each row is flushed as it is written, so a killed run
// keeps its rows; on resume from the checkpoint of step s, rows after s are dropped (the resumed run
// writes them again) so the file never holds a step twice. Losses are written round-trip ("R"), so
// two runs can be compared bit for bit from their files. Not a plotter: see the CLI's loss plot.
using System.Globalization;
using EdgeLM.Formats;

namespace EdgeLM.Training.Run;

/// <summary>One row of metrics.csv; ValLoss is NaN when the step was not evaluated.</summary>
public readonly record struct MetricsRow(int Step, long Tokens, float TrainLoss, float ValLoss, float LearningRate, double GradNorm,
    double TokensPerSecond, double ElapsedSeconds)
{
    public double ValPerplexity => Math.Exp(ValLoss);
}

public sealed class MetricsLog : IDisposable
{
    public const string Header = "step,tokens,train_loss,val_loss,val_ppl,lr,grad_norm,tok_per_s,elapsed_s";
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    readonly StreamWriter _writer;
    readonly List<MetricsRow> _rows;

    MetricsLog(string path, List<MetricsRow> rows)
    {
        Path = path;
        _rows = rows;
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read));
    }

    public string Path { get; }
    public IReadOnlyList<MetricsRow> Rows => _rows;

    /// <summary>Opens <paramref name="path"/> keeping the rows of steps ≤ <paramref name="keepThroughStep"/>
    /// (0 for a new run: any old file is replaced).</summary>
    public static MetricsLog Open(string path, int keepThroughStep)
    {
        var rows = new List<MetricsRow>();
        if (keepThroughStep > 0 && File.Exists(path))
        {
            int line = 1;
            foreach (var text in File.ReadLines(path).Skip(1))
            {
                line++;
                if (text.Length == 0) continue;
                var row = Parse(text, path, line);
                if (row.Step <= keepThroughStep) rows.Add(row);
            }
        }
        AtomicFile.Write(path, s =>
        {
            using var w = new StreamWriter(s, leaveOpen: true);
            w.WriteLine(Header);
            foreach (var r in rows) w.WriteLine(Format(r));
        });
        return new MetricsLog(path, rows);
    }

    public void Append(MetricsRow row)
    {
        _rows.Add(row);
        _writer.WriteLine(Format(row));
        _writer.Flush();
    }

    /// <summary>The CSV line of a row.</summary>
    public static string Format(MetricsRow r) => string.Join(',',
        r.Step.ToString(Inv), r.Tokens.ToString(Inv), r.TrainLoss.ToString("R", Inv),
        float.IsNaN(r.ValLoss) ? "" : r.ValLoss.ToString("R", Inv), float.IsNaN(r.ValLoss) ? "" : r.ValPerplexity.ToString("G6", Inv),
        r.LearningRate.ToString("R", Inv), r.GradNorm.ToString("G6", Inv), r.TokensPerSecond.ToString("F1", Inv), r.ElapsedSeconds.ToString("F3", Inv));

    public static MetricsRow Parse(string line, string path, int lineNumber)
    {
        var f = line.Split(',');
        if (f.Length != 9) throw new InvalidModelFileException(path, $"line {lineNumber}: {f.Length} fields, expected 9 ({Header})");
        try
        {
            return new MetricsRow(int.Parse(f[0], Inv), long.Parse(f[1], Inv), float.Parse(f[2], Inv),
                f[3].Length == 0 ? float.NaN : float.Parse(f[3], Inv), float.Parse(f[5], Inv), double.Parse(f[6], Inv),
                double.Parse(f[7], Inv), double.Parse(f[8], Inv));
        }
        catch (FormatException)
        {
            throw new InvalidModelFileException(path, $"line {lineNumber}: not a metrics row: '{line}'");
        }
    }

    public void Dispose() => _writer.Dispose();
}
