using System.Text.Json;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary><c>tailor train</c> as a user runs it: JSON lines, the files written next to the model, and
/// errors that name the value and leave the model untouched.</summary>
public sealed class TrainCommandTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Json_PrintsOneObjectPerEpoch_ThenAFinalOne_AndWritesCurveAndHistory()
    {
        string output = _dir.File("trained.onnx");
        var r = CliRunner.Run("train", fixture.Path, "--data", TestData.HandsTrain, "--validation", TestData.HandsTest,
            "--epochs", "3", "--augment", "none", "--out", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);

        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(4, lines.Count);
        for (int e = 0; e < 3; e++)
        {
            Assert.Equal(e + 1, lines[e].GetProperty("epoch").GetInt32());
            Assert.True(lines[e].GetProperty("train_loss_mean").GetDouble() > 0);
            Assert.True(lines[e].GetProperty("train_loss_last_batch").GetDouble() > 0);
            Assert.InRange(lines[e].GetProperty("validation_accuracy").GetDouble(), 0, 1);
        }
        var final = lines[3];
        Assert.Equal("completed", final.GetProperty("state").GetString());
        Assert.Equal(3, final.GetProperty("epochs_completed").GetInt32());
        Assert.True(lines[2].GetProperty("train_loss_mean").GetDouble() < lines[0].GetProperty("train_loss_mean").GetDouble());

        Assert.True(File.Exists(output));
        Assert.True(new FileInfo(output + ".loss.png").Length > 1000);
        using var history = JsonDocument.Parse(File.ReadAllText(output + ".history.json"));
        Assert.Contains("train_loss_mean", File.ReadAllText(output + ".history.csv"));
        Assert.NotEqual(File.ReadAllBytes(fixture.Path), File.ReadAllBytes(output));
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp*"));
    }

    [Fact]
    public void LogregWithL2Auto_CrossValidatesTheCandidates_AndReportsTheChoice()
    {
        string output = _dir.File("logreg-auto.onnx");
        var r = CliRunner.Run("train", fixture.Path, "--head", "logreg", "--l2", "auto", "--data", TestData.HandsTrain, "--out", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var final = JsonDocument.Parse(r.Stdout).RootElement;
        var scores = final.GetProperty("l2_cross_validation").EnumerateArray().ToList();
        Assert.Equal([0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1], scores.Select(e => e.GetProperty("l2").GetDouble()));
        Assert.Equal(5, final.GetProperty("l2_folds").GetInt32()); // 10 photos per label
        double chosen = final.GetProperty("l2").GetDouble();
        Assert.Equal(scores.MinBy(e => e.GetProperty("cross_entropy").GetDouble()).GetProperty("l2").GetDouble(), chosen);

        // Two candidates given explicitly; a single value is used as it is.
        r = CliRunner.Run("train", fixture.Path, "--head", "logreg", "--l2", "0.001,0.1", "--data", TestData.HandsTrain, "--out", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(2, JsonDocument.Parse(r.Stdout).RootElement.GetProperty("l2_cross_validation").GetArrayLength());
        r = CliRunner.Run("train", fixture.Path, "--head", "logreg", "--l2", "0.002", "--data", TestData.HandsTrain, "--out", output, "--json");
        var single = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(0.002, single.GetProperty("l2").GetDouble());
        Assert.Equal(JsonValueKind.Null, single.GetProperty("l2_cross_validation").ValueKind);
    }

    [Theory]
    [InlineData("--l2", "lots", "--l2")]
    [InlineData("--l2", "-1", "--l2")]
    public void BadL2_ExitsNonZero_NamingIt_AndWritesNothing(string option, string value, string named)
    {
        string output = _dir.File($"bad-l2-{value}.onnx");
        var r = CliRunner.Run("train", fixture.Path, "--head", "logreg", option, value, "--data", TestData.HandsTrain, "--out", output);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(named, r.Stderr);
        Assert.Contains(value, r.Stderr);
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("--batch", "3", "batch_size")]
    [InlineData("--lr", "5", "learning_rate")]
    [InlineData("--augment", "spin:4", "spin")]
    [InlineData("--schedule", "wavy", "--schedule")]
    public void BadOption_ExitsNonZero_NamesTheValue_AndWritesNothing(string option, string value, string named)
    {
        string model = _dir.File($"model-{named.Trim('-')}.onnx");
        File.Copy(fixture.Path, model);
        byte[] before = File.ReadAllBytes(model);

        var r = CliRunner.Run("train", model, "--data", TestData.HandsTrain, option, value);

        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(named, r.Stderr);
        Assert.Contains(value, r.Stderr);
        Assert.Equal(before, File.ReadAllBytes(model));
        Assert.Equal([model], Directory.GetFiles(_dir.Path, $"model-{named.Trim('-')}*"));
    }

    [Fact]
    public void MissingDataFolder_NamesIt()
    {
        var r = CliRunner.Run("train", fixture.Path, "--data", _dir.File("nowhere"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("nowhere", r.Stderr);
    }
}
