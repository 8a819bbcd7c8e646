using System.Buffers.Binary;
using Tailor.Cli.Plots;
using Tailor.Training;

namespace Tailor.Tests.Training;

public sealed class LossCurveTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tailor-plot").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Theory]
    [InlineData(true, 640, 400)]
    [InlineData(false, 300, 200)]
    public void Png_IsValid_AndOfTheRequestedSize(bool validation, int width, int height)
    {
        string path = Path.Combine(_dir, "loss.png");
        LossCurve.Save(TrainingHistoryTests.Sample(12, validation), path, width, height, "hands: Adam, lr 0.01");

        byte[] png = File.ReadAllBytes(path);
        Assert.Equal(PngSignature, png.AsSpan(0, 8).ToArray());
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.Equal("IEND", System.Text.Encoding.ASCII.GetString(png, png.Length - 8, 4));
        Assert.True(png.Length > 5000, $"only {png.Length} bytes: probably a blank image");
        Assert.Equal([path], Directory.GetFiles(_dir)); // no temp file left behind
    }

    [Fact]
    public void Png_DiffersWithAndWithoutValidation()
    {
        byte[] with = LossCurve.RenderPng(TrainingHistoryTests.Sample(6, true), 400, 300);
        byte[] without = LossCurve.RenderPng(TrainingHistoryTests.Sample(6, false), 400, 300);
        Assert.NotEqual(with, without);
    }

    [Fact]
    public void Svg_HasTitleAndLabels()
    {
        string path = Path.Combine(_dir, "loss.svg");
        LossCurve.Save(TrainingHistoryTests.Sample(5, true), path, title: "my run");
        string svg = File.ReadAllText(path);
        var doc = System.Xml.Linq.XDocument.Parse(svg); // well-formed XML
        Assert.Equal("svg", doc.Root!.Name.LocalName);
        Assert.Contains("my run", svg);
        Assert.Contains("validation accuracy (%)", svg);
        Assert.Contains("epoch", svg);
    }

    [Fact]
    public void EmptyAndDivergedHistories_StillRender()
    {
        Assert.Equal(PngSignature, LossCurve.RenderPng(new TrainingHistory(), 200, 150).AsSpan(0, 8).ToArray());
        var h = TrainingHistoryTests.Sample(3, true);
        h.Add(new EpochRecord(4, double.NaN, double.NaN, 0, double.PositiveInfinity, 0.1, 0.01, 1));
        Assert.Equal(PngSignature, LossCurve.RenderPng(h, 200, 150).AsSpan(0, 8).ToArray());
    }

    [Fact]
    public void BadSize_Throws()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => LossCurve.RenderPng(new TrainingHistory(), 0, 300));
        Assert.Contains("width must be 100 to 10000 pixels; got 0", e.Message);
    }

    [Fact]
    public void Legend_IsOutsideTheDataArea_SoNoCurvePassesUnderIt()
    {
        var plot = LossCurve.Build(TrainingHistoryTests.Sample(8, true), "run");
        plot.GetImageBytes(640, 400, ScottPlot.ImageFormat.Png);
        Assert.False(plot.Legend.IsVisible);   // the legend inside the data area is off…
        string svg = LossCurve.RenderSvg(TrainingHistoryTests.Sample(8, true), 640, 400);
        Assert.Contains("train loss (epoch mean)", svg);   // …and the one below the plot shows every series
        Assert.Contains("validation accuracy (%)", svg);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void EpochAxis_HasWholeNumberTicksOnly(int epochs)
    {
        var plot = LossCurve.Build(TrainingHistoryTests.Sample(epochs, true), "run");
        plot.GetImageBytes(800, 500, ScottPlot.ImageFormat.Png);
        var ticks = plot.Axes.Bottom.TickGenerator.Ticks.Where(t => t.IsMajor).Select(t => t.Position).ToList();
        Assert.NotEmpty(ticks);
        Assert.All(ticks, t => Assert.Equal(Math.Round(t), t, 9));
    }
}
