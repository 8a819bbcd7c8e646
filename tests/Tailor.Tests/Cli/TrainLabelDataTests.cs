using System.Text.Json;
using Tailor.Tests.Images;
using Tailor.Tests.Training;

namespace Tailor.Tests.Cli;

/// <summary><c>tailor train</c> and the data it is given: unreadable photos treated alike by every head,
/// training data that lacks labels the model learned, and examples kept with the model and replayed.</summary>
[Trait("Category", "Slow")]
public sealed class TrainLabelDataTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Two hands photos per label, and one file that is not a picture.</summary>
    private (string Data, string Bad) SmallSetWithABadFile(string name)
    {
        string root = Path.Combine(_dir.Path, name);
        var hands = Tailor.Data.LabeledFolder.Scan(TestData.HandsTrain);
        foreach (var label in hands.Labels)
        {
            string target = Directory.CreateDirectory(Path.Combine(root, label)).FullName;
            foreach (var e in hands.ExamplesOf(label).Take(2)) File.Copy(e.Path, Path.Combine(target, Path.GetFileName(e.Path)));
        }
        string bad = Path.Combine(root, "✋", "broken.jpg");
        File.WriteAllText(bad, "not a picture");
        return (root, bad);
    }

    [Theory]
    [InlineData("nn")]
    [InlineData("logreg")]
    [InlineData("knn")]
    public void UnreadablePhoto_FailsNamingItAndTheCount_OrIsSkippedAndListed_ForEveryHead(string head)
    {
        var (data, bad) = SmallSetWithABadFile("bad-" + head);
        string output = _dir.File($"bad-{head}.onnx");
        string[] common = ["train", fixture.Path, "--head", head, "--data", data, "--out", output, .. head == "nn" ? new[] { "--epochs", "1", "--augment", "none" } : []];

        var failed = CliRunner.Run([.. common]);
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains(bad, failed.Stderr);
        Assert.Contains("1 unreadable", failed.Stderr);
        Assert.Contains("--skip-bad", failed.Stderr);
        Assert.False(File.Exists(output));

        var skipped = CliRunner.Run([.. common, "--skip-bad", "--json"]);
        Assert.True(skipped.ExitCode == 0, skipped.Stderr);
        var final = JsonDocument.Parse(skipped.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.Equal(bad, Assert.Single(final.GetProperty("skipped").EnumerateArray()).GetProperty("path").GetString());
        Assert.True(File.Exists(output));
        var text = CliRunner.Run([.. common, "--skip-bad"]);
        Assert.Contains("skipped", text.Stdout);
        Assert.Contains(bad, text.Stdout);
    }

    [Fact]
    public void DataLackingLearnedLabels_IsRefused_ThenForgetOrKeepExamplesAndReplay()
    {
        string model = _dir.File("hands.onnx");
        File.Copy(fixture.Path, model);
        var (data, bad) = SmallSetWithABadFile("small");
        File.Delete(bad);
        string stars = Path.Combine(_dir.Path, "stars");
        StarImages.Write(Path.Combine(stars, "star"), 3, seed: 3);
        string[] quick = ["--epochs", "2", "--augment", "none"];

        var r = CliRunner.Run(["train", model, "--data", data, "--keep-examples", .. quick]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(model + ".examples"));
        Assert.Contains($"Kept 6 examples", r.Stdout);
        byte[] trained = File.ReadAllBytes(model);

        // Without the replay file (moved away), the star-only data is refused before the features are computed.
        File.Move(model + ".examples", model + ".examples.away");
        r = CliRunner.Run(["train", model, "--data", stars, .. quick]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("✊", r.Stderr);
        Assert.Contains("--forget", r.Stderr);
        Assert.Contains("--keep-examples", r.Stderr);
        Assert.DoesNotContain("Features", r.Stderr);
        Assert.Equal(trained, File.ReadAllBytes(model));

        // With the file back beside the model, it is replayed automatically and kept up to date.
        File.Move(model + ".examples.away", model + ".examples");
        r = CliRunner.Run(["train", model, "--data", stars, .. quick]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"Replayed 6 kept examples", r.Stdout);
        Assert.Contains($"Kept 9 examples", r.Stdout);

        // --forget goes ahead knowingly and says what was forgotten.
        string forgot = _dir.File("forgot.onnx");
        File.Copy(model, forgot);
        r = CliRunner.Run(["train", forgot, "--data", Path.Combine(_dir.Path, "stars"), "--forget", "--json", .. quick]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var final = JsonDocument.Parse(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.Equal(["✊", "✋", "✌️"], final.GetProperty("forgotten").EnumerateArray().Select(e => e.GetString()));
    }
}
