using Tailor.Cli;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>How output is laid out: counts in words, tables that fit the terminal without cutting names, and a
/// progress line that never shares a line with a message.</summary>
[Trait("Category", "Slow")]
public sealed class LayoutTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>
{
    [Theory]
    [InlineData(0, "0 epochs")]
    [InlineData(1, "1 epoch")]
    [InlineData(2, "2 epochs")]
    public void Count_IsSingularForOneOnly(int n, string expected) => Assert.Equal(expected, Text.Count(n, "epoch"));

    [Fact]
    public void Count_TakesAnIrregularPlural() => Assert.Equal("3 entries", Text.Count(3, "entry", "entries"));

    [Fact]
    public void Prepare_WithoutLabels_SaysHowManyPlaceholders()
    {
        using var dir = new TempFolder();
        var r = CliRunner.Run("prepare", "--capacity", "4", "--out", dir.File("empty.onnx"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("4 slots (4 placeholders)", r.Stdout);
        r = CliRunner.Run("prepare", "--capacity", "1", "--labels", "a", "--out", dir.File("one.onnx"));
        Assert.Contains("1 slot (a)", r.Stdout);
    }

    [Fact]
    public void InfoTables_FitColumns_WithoutSplittingAName()
    {
        var r = CliRunner.RunWith(new Dictionary<string, string> { ["COLUMNS"] = "80" }, "info", fixture.Path);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.ReplaceLineEndings("\n").Split('\n');
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: {l}"));
        foreach (var name in new[] { "BatchNormalization389", "Convolution387", "classifier.weight", "Parameter417" })
            Assert.Contains(lines, l => l.Contains(name, StringComparison.Ordinal));
    }

    [Fact]
    public void Columns_IsHonouredWhenPiped()
    {
        var wide = CliRunner.RunWith(new Dictionary<string, string> { ["COLUMNS"] = "200" }, "info", fixture.Path);
        var narrow = CliRunner.RunWith(new Dictionary<string, string> { ["COLUMNS"] = "60" }, "info", fixture.Path);
        // The label list (slot 9 is user6) is one line at 200 columns and wraps at 60.
        Assert.Contains(wide.Stdout.Split('\n'), l => l.StartsWith("Labels (", StringComparison.Ordinal) && l.Contains("9:user6", StringComparison.Ordinal));
        Assert.Contains(narrow.Stdout.Split('\n'), l => l.StartsWith("Labels (", StringComparison.Ordinal) && !l.Contains("9:user6", StringComparison.Ordinal));
        Assert.All(narrow.Stdout.Split('\n').Where(l => !l.Contains('│') && !l.Contains('─')), l => Assert.True(l.Length <= 60, l));
    }

    [Fact]
    public void StatusLine_OnATerminal_RewritesInPlace_AndIsEndedBeforeAMessage()
    {
        var writer = new StringWriter();
        var status = new StatusLine(writer, terminal: true);
        status.Report("Features", 1, 3, "images");
        status.Report("Features", 2, 3, "images");
        status.End();
        status.End();   // ending twice adds nothing
        Assert.Equal("\rFeatures: 1/3 images\u001b[K\rFeatures: 2/3 images\u001b[K" + Environment.NewLine, writer.ToString());

        writer = new StringWriter();
        status = new StatusLine(writer, terminal: true);
        status.Report("Features", 3, 3, "images");
        status.End();   // already ended by the last count
        Assert.Equal("\rFeatures: 3/3 images\u001b[K" + Environment.NewLine, writer.ToString());
    }

    [Fact]
    public void StatusLine_Redirected_WritesWholeLines_EveryFewSteps()
    {
        var writer = new StringWriter();
        var status = new StatusLine(writer, terminal: false);
        for (int i = 1; i <= 70; i++) status.Report("Features", i, 70, "images");
        status.End();
        Assert.Equal(["Features: 32/70 images", "Features: 64/70 images", "Features: 70/70 images", ""],
            writer.ToString().Split(Environment.NewLine));
    }
}
