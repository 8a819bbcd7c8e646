using ScottPlot;
using Tailor.Training;

namespace Tailor.Cli.Plots;

/// <summary>
/// Draws a training history: the epoch-mean training loss and the validation loss per epoch on the left
/// axis, and the validation accuracy (in %) on a right axis when the history has it. Non-finite losses
/// (a diverged epoch) are left out rather than stretching the axis to infinity.
/// </summary>
public static class LossCurve
{
    /// <summary>Default image width in pixels.</summary>
    public const int DefaultWidth = 800;

    /// <summary>Default image height in pixels.</summary>
    public const int DefaultHeight = 500;

    /// <summary>Renders the plot as PNG bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 100 or above 10000 pixels.</exception>
    public static byte[] RenderPng(TrainingHistory history, int width = DefaultWidth, int height = DefaultHeight, string title = "Training loss")
    {
        CheckSize(width, height);
        return Build(history, title).GetImageBytes(width, height, ImageFormat.Png);
    }

    /// <summary>Renders the plot as SVG text.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 100 or above 10000 pixels.</exception>
    public static string RenderSvg(TrainingHistory history, int width = DefaultWidth, int height = DefaultHeight, string title = "Training loss")
    {
        CheckSize(width, height);
        return Build(history, title).GetSvgXml(width, height);
    }

    /// <summary>
    /// Renders and writes the plot atomically (rendered in memory, then <see cref="AtomicFile"/>): SVG if
    /// <paramref name="path"/> ends in <c>.svg</c>, otherwise PNG.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 100 or above 10000 pixels.</exception>
    /// <exception cref="TailorException">The file cannot be written.</exception>
    public static void Save(TrainingHistory history, string path, int width = DefaultWidth, int height = DefaultHeight, string title = "Training loss")
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase))
            AtomicFile.WriteAllText(path, RenderSvg(history, width, height, title));
        else
            AtomicFile.WriteAllBytes(path, RenderPng(history, width, height, title));
    }

    internal static Plot Build(TrainingHistory history, string title)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(title);
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel("loss");

        IReadOnlyList<EpochRecord> epochs = history.Epochs;
        AddSeries(plot, epochs, e => e.TrainLossMean, "train loss (epoch mean)", Colors.C0, rightAxis: false);
        AddSeries(plot, epochs, e => e.ValidationLoss, "validation loss", Colors.C1, rightAxis: false);
        bool hasAccuracy = AddSeries(plot, epochs, e => e.ValidationAccuracy * 100, "validation accuracy (%)", Colors.C2, rightAxis: true);

        // The legend goes below the plot, outside the data area: inside, wherever it sits, some run's curve
        // (the accuracy line climbing to the top, the loss falling to the bottom) passes under it.
        if (epochs.Count > 0)
            plot.ShowLegend(Edge.Bottom);
        // Epochs are whole numbers: no tick at epoch 1.5 (a 2-epoch run got them).
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        if (hasAccuracy)
        {
            // Accuracy on a fixed 0–100 % scale so runs can be compared by eye.
            plot.Axes.Right.Label.Text = "validation accuracy (%)";
            plot.Axes.SetLimitsY(0, 100, plot.Axes.Right);
        }
        return plot;
    }

    /// <summary>Adds the finite values of one series; returns whether it had any.</summary>
    private static bool AddSeries(Plot plot, IReadOnlyList<EpochRecord> epochs, Func<EpochRecord, double?> select,
        string label, Color color, bool rightAxis)
    {
        var xs = new List<double>(epochs.Count);
        var ys = new List<double>(epochs.Count);
        foreach (EpochRecord e in epochs)
        {
            if (select(e) is { } y && double.IsFinite(y))
            {
                xs.Add(e.Epoch);
                ys.Add(y);
            }
        }
        if (xs.Count == 0)
            return false;
        var scatter = plot.Add.Scatter(xs.ToArray(), ys.ToArray(), color);
        scatter.LegendText = label;
        scatter.MarkerSize = xs.Count <= 50 ? 5 : 0;
        scatter.LineWidth = 2;
        if (rightAxis)
        {
            scatter.Axes.YAxis = plot.Axes.Right;
            scatter.LinePattern = LinePattern.Dashed;
        }
        return true;
    }

    private static void CheckSize(int width, int height)
    {
        if (width is < 100 or > 10000)
            throw new ArgumentOutOfRangeException(nameof(width), $"width must be 100 to 10000 pixels; got {width}.");
        if (height is < 100 or > 10000)
            throw new ArgumentOutOfRangeException(nameof(height), $"height must be 100 to 10000 pixels; got {height}.");
    }
}
