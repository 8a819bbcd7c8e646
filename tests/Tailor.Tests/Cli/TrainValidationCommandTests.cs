using System.Text.Json;
using Tailor.Data;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary><c>tailor train --validation-split/--keep-best/--patience</c> as a user runs them: a run that stops early
/// says why and which epoch it wrote; a mistake is an error naming the flag (and the label) before any work.</summary>
[Trait("Category", "Slow")]
public sealed class TrainValidationCommandTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The first <paramref name="count"/> hands training photos of each label.</summary>
    private string Photos(string name, int count)
    {
        string root = _dir.File(name);
        var hands = LabeledFolder.Scan(TestData.HandsTrain);
        foreach (var label in hands.Labels)
        {
            string target = Directory.CreateDirectory(Path.Combine(root, label)).FullName;
            foreach (var e in hands.ExamplesOf(label).Take(count))
                File.Copy(e.Path, Path.Combine(target, Path.GetFileName(e.Path)));
        }
        return root;
    }

    [Fact]
    public void SplitWithPatience_StopsEarly_WritesTheBestEpoch_AndSaysSo()
    {
        string output = _dir.File("early.onnx");
        var r = CliRunner.Run("train", fixture.Path, "--data", Photos("four", 4), "--validation-split", "0.25", "--patience", "2",
            "--epochs", "40", "--lr", "0.05", "--batch", "4", "--augment", "none", "--schedule", "constant", "--out", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);

        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var epochs = lines.SkipLast(1).ToList();
        var final = lines[^1];
        int best = epochs.MinBy(e => e.GetProperty("validation_loss").GetDouble()).GetProperty("epoch").GetInt32();
        Assert.Equal("completed", final.GetProperty("state").GetString());
        Assert.True(final.GetProperty("stopped_early").GetBoolean());
        Assert.Equal(best + 2, final.GetProperty("epochs_completed").GetInt32());
        Assert.Equal(best, final.GetProperty("kept_epoch").GetInt32());
        Assert.Contains("not improved for 2 epochs", final.GetProperty("reason").GetString());
        using var history = JsonDocument.Parse(File.ReadAllText(output + ".history.json"));
        Assert.Equal(best, history.RootElement.GetProperty("kept_epoch").GetInt32());
    }

    [Theory]
    [InlineData("--keep-best", "--keep-best compares epochs by their validation loss, and there is no validation data")]
    [InlineData("--patience 3", "--patience compares epochs by their validation loss")]
    [InlineData("--validation-split 0.7", "--validation-split 0.7: give the fraction of each label's photos to hold out, more than 0 and at most 0.5")]
    [InlineData("--validation-split 0", "more than 0 and at most 0.5")]
    [InlineData("--head knn --validation-split 0.2", "--validation-split applies to --head nn")]
    public void Mistakes_AreErrorsNamingTheFlag(string flags, string expected)
    {
        string output = _dir.File("never.onnx");
        var r = CliRunner.Run(["train", fixture.Path, "--data", TestData.HandsTrain, "--out", output, .. flags.Split(' ')]);
        Assert.Equal(2, r.ExitCode);   // usage errors
        Assert.Contains(expected, r.Stderr.ReplaceLineEndings(" "));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Split_ALabelWithOnePhoto_IsAnErrorNamingTheLabel()
    {
        string data = Photos("thin", 2);
        File.Delete(Directory.GetFiles(Path.Combine(data, "✌️"))[0]);

        var r = CliRunner.Run("train", fixture.Path, "--data", data, "--validation-split", "0.2", "--out", _dir.File("never.onnx"));

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("label '✌️' has 1 photo", r.Stderr.ReplaceLineEndings(" "));
        Assert.Contains("--validation DIR", r.Stderr.ReplaceLineEndings(" "));
    }
}
