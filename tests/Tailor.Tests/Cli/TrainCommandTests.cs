using System.Text.Json;
using System.Text.RegularExpressions;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary><c>tailor train</c> as a user runs it: JSON lines, the files written next to the model, and
/// errors that name the value and leave the model untouched.</summary>
[Trait("Category", "Slow")]
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

    [Theory]
    [InlineData("nn", "--k", "3", "--head knn")]
    [InlineData("nn", "--metric", "cosine", "--head knn")]
    [InlineData("nn", "--l2", "0.01", "--head logreg")]
    [InlineData("logreg", "--epochs", "3", "--head nn")]
    [InlineData("logreg", "--k", "3", "--head knn")]
    [InlineData("knn", "--lr", "0.01", "--head nn")]
    [InlineData("knn", "--resume", "old.ckpt", "--head nn")]
    [InlineData("knn", "--l2", "0.01", "--head logreg")]
    public void OptionOfAnotherHead_IsAnError_NamingTheOptionAndItsHeads_AndWritesNothing(string head, string option, string value, string appliesTo)
    {
        string output = _dir.File($"other-head-{head}{option}.onnx");
        var r = CliRunner.Run("train", fixture.Path, "--head", head, option, value, "--data", TestData.HandsTrain, "--out", output);
        Assert.Equal(2, r.ExitCode);   // a usage error
        Assert.Contains($"{option} applies to {appliesTo} only, not to --head {head}", r.Stderr);
        Assert.DoesNotContain("Features", r.Stderr);   // refused before any work
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void HeadOptionTable_NamesOnlyHeadsThatExist_AndOptionsTheCommandHas()
    {
        var command = Tailor.Cli.Commands.TrainCommand.Create();
        var names = command.Options.Select(o => o.Name).ToHashSet();
        foreach (var (option, heads) in Tailor.Cli.Commands.TrainCommand.HeadsOf)
        {
            Assert.All(heads, h => Assert.Contains(h, Tailor.Cli.Commands.TrainCommand.Heads));
            // Lines for options other engineers add may come before their option; every current head-specific one is there.
            if (option is not ("--keep-best" or "--patience")) Assert.Contains(option, names);
        }
        // The help says it too.
        Assert.EndsWith("With --head knn only.", command.Options.Single(o => o.Name == "--k").Description);
        Assert.EndsWith("With --head nn only.", command.Options.Single(o => o.Name == "--epochs").Description);
    }

    [Fact]
    public void OneEpoch_SaysItInTheSingular_AndTheEpochTableFits80Columns()
    {
        string output = _dir.File("one-epoch.onnx");
        var r = CliRunner.RunWith(new Dictionary<string, string> { ["COLUMNS"] = "80" },
            "train", fixture.Path, "--data", TestData.HandsTrain, "--validation", TestData.HandsTest, "--epochs", "1", "--augment", "none", "--out", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n');
        Assert.Contains("× 1 variant,", r.Stdout);
        Assert.Contains("Done: 1 epoch;", r.Stdout.ReplaceLineEndings(" "));
        Assert.DoesNotContain("1 variants", r.Stdout);
        Assert.DoesNotContain("1 epochs", r.Stdout);
        int header = Array.FindIndex(lines, l => l.StartsWith("epoch", StringComparison.Ordinal) || l.Contains("│ train loss", StringComparison.Ordinal));
        Assert.True(header >= 0, r.Stdout);
        foreach (var line in lines.Skip(header).Take(2))
            Assert.True(line.Length <= 80, $"{line.Length} columns: '{line}'");
        Assert.Matches(@"^\s+1\s", lines[header + 1]);
    }

    [Fact]
    public void FailureBeforeTheFirstEpoch_AnnouncesNoNewLabel_AndWritesNothing()
    {
        // A new label whose only file is unreadable: training stops before any epoch, so no slot is taken.
        using var data = new TempFolder();
        foreach (var labelDir in Directory.GetDirectories(TestData.HandsTrain))
            CopyFirst(labelDir, Path.Combine(data.Path, Path.GetFileName(labelDir)), 2);
        Directory.CreateDirectory(Path.Combine(data.Path, "star"));
        File.WriteAllText(Path.Combine(data.Path, "star", "broken.jpg"), "not a JPEG");
        string output = _dir.File("failed.onnx");

        var r = CliRunner.Run("train", fixture.Path, "--data", data.Path, "--epochs", "2", "--augment", "none", "--out", output);

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("broken.jpg", r.Stderr);
        Assert.Contains("Nothing was written", r.Stderr);
        Assert.DoesNotContain("took slot", r.Stdout + r.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void CtrlC_DuringEpochs_IsNotAnError_KeepsTheLastEpochAndACheckpoint_AndResumeCompletesAndRemovesIt()
    {
        string output = _dir.File("interrupted.onnx");
        var r = CliRunner.RunAndInterrupt(line => Regex.IsMatch(line, @"^\s+1\s"),
            "train", fixture.Path, "--data", TestData.HandsTrain, "--epochs", "500", "--augment", "none", "--out", output);

        Assert.Equal(130, r.ExitCode);
        Assert.DoesNotContain("error", r.Stderr, StringComparison.OrdinalIgnoreCase);
        var kept = Regex.Match(r.Stderr, @"Stopped during epoch (\d+), as asked\. (.+) holds the weights of epoch (\d+)\.");
        Assert.True(kept.Success, r.Stderr);
        int epochs = int.Parse(kept.Groups[3].Value);
        Assert.Equal(epochs + 1, int.Parse(kept.Groups[1].Value));
        Assert.Equal(output, kept.Groups[2].Value);
        string checkpoint = output + ".ckpt";
        Assert.Contains($"run the same command with --resume {checkpoint}", r.Stderr);
        Assert.True(File.Exists(checkpoint));
        Assert.True(File.Exists(output));

        var resumed = CliRunner.Run("train", fixture.Path, "--data", TestData.HandsTrain, "--epochs", (epochs + 1).ToString(), "--augment", "none",
            "--out", output, "--resume", checkpoint);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains($"epoch {epochs + 1}.", resumed.Stdout);   // the resumed run starts where the first stopped
        Assert.Contains($"Removed the checkpoint {checkpoint}", resumed.Stdout.ReplaceLineEndings(""));
        Assert.False(File.Exists(checkpoint));
    }

    [Fact]
    public void CtrlC_DuringFeatures_EndsTheProgressLineFirst_AndWritesNothing()
    {
        string output = _dir.File("interrupted-early.onnx");
        // The default augmentation makes 4 variants of the 30 photos: a redirected stderr gets a line every 32 images.
        var r = CliRunner.RunAndInterrupt(line => line.StartsWith("Features: 32/", StringComparison.Ordinal),
            "train", fixture.Path, "--data", TestData.HandsTrain, "--out", output);

        Assert.Equal(130, r.ExitCode);
        foreach (var line in r.Stderr.Split('\n').Where(l => l.Contains("Features")))
            Assert.Matches(@"^Features: \d+/\d+ images$", line);   // whole lines when piped, nothing after them
        Assert.Contains("Nothing was written.", r.Stderr);
        Assert.DoesNotContain("error", r.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("took slot", r.Stdout);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".ckpt"));
    }

    private static void CopyFirst(string from, string to, int count)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from).Order(StringComparer.Ordinal).Take(count))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
