using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>tailor train writes the history (JSON, CSV) and the loss curve after the model: when the model cannot be
/// written (a kill, a full disk), none of them describes a model that does not exist.</summary>
[Collection("Serial")]
[Trait("Category", "Slow")]
public sealed class HistoryOrderTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ModelWriteFails_LeavesNoHistoryAndNoLossCurve()
    {
        string output = _dir.File("out.onnx");
        // The last epoch's row is printed just before the model is written; a folder put at its path then makes that
        // write fail (the path was checked, and was free, before training).
        var r = await InProcessCli.RunAsync(
            ["train", fixture.Path, "--data", TestData.HandsTrain, "--epochs", "2", "--augment", "none", "--out", output],
            line => { if (line.StartsWith("    2  ", StringComparison.Ordinal)) Directory.CreateDirectory(output); });

        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.Contains($"error: Cannot write '{output}'", r.Stderr);
        Assert.False(File.Exists(output + ".history.json"), "a history of a model that was not written");
        Assert.False(File.Exists(output + ".history.csv"));
        Assert.False(File.Exists(output + ".loss.png"));
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp"));
    }

    [Fact]
    public async Task Completed_WritesModelThenHistoryAndCurve_DescribingIt()
    {
        string output = _dir.File("done.onnx");
        var r = await InProcessCli.RunAsync(["train", fixture.Path, "--data", TestData.HandsTrain, "--epochs", "2", "--augment", "none", "--out", output]);

        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var history = Tailor.Training.TrainingHistory.Load(output + ".history.json");
        Assert.Equal([1, 2], history.Epochs.Select(e => e.Epoch));
        Assert.Equal(2, history.KeptEpoch);
        Assert.True(File.GetLastWriteTimeUtc(output) <= File.GetLastWriteTimeUtc(output + ".history.json"));
        Assert.True(File.Exists(output + ".history.csv") && File.Exists(output + ".loss.png"));
    }
}
