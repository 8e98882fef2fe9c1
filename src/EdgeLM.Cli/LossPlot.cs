// loss.png of a training run: training loss per step and validation loss at each evaluation, drawn
// with ScottPlot 5 (the only place the CLI uses it, so the core library stays free of native code)
// and written atomically, so a viewer never opens a half-written image. Not a metrics store: the
// rows come from metrics.csv (MetricsLog).
using EdgeLM.Formats;
using EdgeLM.Training.Run;

namespace EdgeLM.Cli;

public static class LossPlot
{
    public const string FileName = "loss.png";

    public static void Save(string path, IReadOnlyList<MetricsRow> rows, int width = 900, int height = 520)
    {
        var trainX = new double[rows.Count];
        var trainY = new double[rows.Count];
        var valX = new List<double>();
        var valY = new List<double>();
        for (int i = 0; i < rows.Count; i++)
        {
            trainX[i] = rows[i].Step;
            trainY[i] = rows[i].TrainLoss;
            if (!float.IsNaN(rows[i].ValLoss)) { valX.Add(rows[i].Step); valY.Add(rows[i].ValLoss); }
        }
        var plot = new ScottPlot.Plot();
        if (rows.Count > 0)
        {
            var train = plot.Add.Scatter(trainX, trainY);
            train.LegendText = "training";
            train.MarkerSize = 0;
        }
        if (valX.Count > 0)
        {
            var val = plot.Add.Scatter(valX.ToArray(), valY.ToArray());
            val.LegendText = "validation";
            val.MarkerSize = 6;
        }
        plot.Title("loss");
        plot.XLabel("step");
        plot.YLabel("cross-entropy (nats/token)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        byte[] png = plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(png));
    }
}
