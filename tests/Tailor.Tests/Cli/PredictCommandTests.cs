using System.Text.Json;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary><c>tailor predict</c> on files and folders, as a table, CSV or JSON.</summary>
[Trait("Category", "Slow")]
public sealed class PredictCommandTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A folder with photos at three depths and a hidden file; returns the photos' paths in the order expected.</summary>
    private string[] NestedPhotos()
    {
        var photos = Directory.GetFiles(Path.Combine(TestData.HandsTest, "✊")).Order(StringComparer.Ordinal).Take(3).ToArray();
        string root = Directory.CreateDirectory(_dir.File("photos")).FullName;
        string[] targets = [Path.Combine(root, "b.jpg"), Path.Combine(root, "a", "z.jpg"), Path.Combine(root, "a", "deeper", "x,1.jpg")];
        for (int i = 0; i < targets.Length; i++)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(targets[i])!);
            File.Copy(photos[i], targets[i]);
        }
        File.WriteAllText(Path.Combine(root, ".DS_Store"), "junk");
        return targets.Order(StringComparer.Ordinal).ToArray();
    }

    [Fact]
    public void Folder_PredictsEveryImageInside_Recursively_InOrdinalOrder_AsCsv()
    {
        var expected = NestedPhotos();
        var r = CliRunner.Run("predict", fixture.Path, _dir.File("photos"), "--format", "csv");
        Assert.True(r.ExitCode == 0, r.Stderr);

        var lines = r.Stdout.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal("path,label,probability,error,✊,✋,✌️", lines[0]);
        Assert.Equal(expected.Length + 1, lines.Length);
        // A path holding a comma is quoted (RFC 4180).
        var paths = lines.Skip(1).Select(l => l.StartsWith('"') ? l[1..l.IndexOf('"', 1)] : l[..l.IndexOf(',')]).ToArray();
        Assert.Equal(expected, paths);
        foreach (var line in lines.Skip(1))
        {
            var fields = line[(line.LastIndexOf(".jpg", StringComparison.Ordinal) + 4)..].TrimStart('"').Split(',');
            // ,label,probability,error,p1,p2,p3 → the three label probabilities and the top one's are numbers.
            Assert.Equal(7, fields.Length);
            Assert.Equal("", fields[3]);
            double top = double.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture);
            var perLabel = fields.Skip(4).Select(f => double.Parse(f, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.InRange(top, 0, 1);
            Assert.True(perLabel.Sum() <= 1.0001);
        }
    }

    [Fact]
    public void FormatJson_IsTheJsonFlag_AndFoldersMixWithFiles()
    {
        var expected = NestedPhotos();
        string single = Directory.GetFiles(Path.Combine(TestData.HandsTest, "✋")).Order(StringComparer.Ordinal).First();
        var a = CliRunner.Run("predict", fixture.Path, single, _dir.File("photos"), "--format", "json");
        var b = CliRunner.Run("predict", fixture.Path, single, _dir.File("photos"), "--json");
        Assert.True(a.ExitCode == 0, a.Stderr);
        Assert.Equal(a.Stdout, b.Stdout);
        var rows = JsonDocument.Parse(a.Stdout).RootElement.EnumerateArray().ToList();
        Assert.Equal([single, .. expected], rows.Select(r => r.GetProperty("path").GetString()));
        Assert.All(rows, r => Assert.Equal(3, r.GetProperty("top").GetArrayLength()));
    }

    [Fact]
    public void EmptyFolder_MissingPath_AndUnknownFormat_AreClearErrors()
    {
        Directory.CreateDirectory(_dir.File("empty"));
        var r = CliRunner.Run("predict", fixture.Path, _dir.File("empty"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"The folder '{_dir.File("empty")}' holds no files", r.Stderr);

        r = CliRunner.Run("predict", fixture.Path, _dir.File("nowhere.jpg"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("nowhere.jpg' does not exist", r.Stderr);

        r = CliRunner.Run("predict", fixture.Path, _dir.File("empty"), "--format", "xml");
        Assert.Equal(2, r.ExitCode);   // a usage error
        Assert.Contains("--format: 'xml' is not one of table, csv, json", r.Stderr);
    }

    [Fact]
    public void Table_OnANarrowTerminal_KeepsPathsAndTopEntriesWhole()
    {
        NestedPhotos();
        var r = CliRunner.RunWith(new Dictionary<string, string> { ["COLUMNS"] = "60" }, "predict", fixture.Path, _dir.File("photos"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n');
        // Paths inside the folder given, each on one line; "label probability" entries never broken.
        foreach (var shown in new[] { Path.Combine("a", "deeper", "x,1.jpg"), Path.Combine("a", "z.jpg"), "b.jpg" })
            Assert.Contains(lines, l => l.Contains("│ " + shown + " ", StringComparison.Ordinal));
        Assert.Equal(9, lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"│ \S+ \d+\.\d %\s+│\s*$")));
    }
}
