using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tailor.Tests.Images;
using Tailor.Training;

namespace Tailor.Tests.Cli;

/// <summary>SIGTERM (and Ctrl+C) stop every command cleanly: a note and 128 + the signal as exit code, never a stack
/// trace, and nothing half-written — no temporary file, and a history only beside a model that was written.</summary>
[Trait("Category", "Slow")]
public sealed class SignalTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>SIGTERM when a line satisfies <paramref name="first"/>, and again when a later one satisfies
    /// <paramref name="second"/>.</summary>
    private static CliRunner.Result RunAndTerminate(Func<string, bool> first, Func<string, bool>? second, params string[] args) =>
        CliRunner.RunAndSignal("TERM", second is null ? [first] : [first, second], args);

    private string[] Train(string output) =>
        ["train", fixture.Path, "--data", TestData.HandsTrain, "--epochs", "200", "--augment", "none", "--out", output];

    private static bool IsEpochRow(string line, int epoch) => line.StartsWith(epoch.ToString(CultureInfo.InvariantCulture).PadLeft(5) + "  ", StringComparison.Ordinal);

    [Fact]
    public void Train_Sigterm_StopsAfterTheMiniBatch_KeepsTheLastEpoch_Exit143()
    {
        if (!OperatingSystem.IsLinux()) return;
        string output = _dir.File("out.onnx");

        var r = RunAndTerminate(line => IsEpochRow(line, 2), null, Train(output));

        Assert.True(r.ExitCode == 143, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.Contains("Stopping after this mini-batch and keeping the last completed epoch (SIGTERM again to quit at once)", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        // The model holds the last completed epoch, the history describes exactly the epochs it holds, and the
        // checkpoint resumes from there.
        int epochs = r.Stdout.Split('\n').Count(line => line.Length > 5 && int.TryParse(line.AsSpan(0, 5).Trim(), out _));
        var history = TrainingHistory.Load(output + ".history.json");
        Assert.Equal(epochs, history.Epochs.Count);
        Assert.Equal(epochs, history.KeptEpoch);
        Assert.Equal(epochs, Checkpoint.Read(output + ".ckpt").EpochsCompleted);
        Assert.Contains($"{Path.GetFileName(output)} holds the weights of epoch {epochs}", r.Stderr);
        UpdatableModel.Load(output);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp"));
    }

    [Fact]
    public void Train_SigtermTwice_EndsAtOnce_Exit143_NothingHalfWritten()
    {
        if (!OperatingSystem.IsLinux()) return;
        string output = _dir.File("out.onnx");

        // The second SIGTERM comes as the first is noted: while the task stops and the checkpoint and model are written.
        var r = RunAndTerminate(line => IsEpochRow(line, 2), line => line.StartsWith("Stopping after", StringComparison.Ordinal), Train(output));

        Assert.True(r.ExitCode == 143, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        // Ended at once by the second signal, or (on a busy machine the second can come late) after the stop completed.
        Assert.True(r.Stderr.Contains("Stopped by SIGTERM.", StringComparison.Ordinal) || r.Stderr.Contains("holds the weights of epoch", StringComparison.Ordinal), r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.DoesNotContain("Unhandled", r.Stderr);
        // Whatever was being written when the process ended: no temporary file is left, what exists is whole, and a
        // history exists only beside a model that was written.
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp", SearchOption.AllDirectories));
        if (File.Exists(output + ".ckpt")) Checkpoint.Read(output + ".ckpt");
        if (File.Exists(output)) UpdatableModel.Load(output);
        if (File.Exists(output + ".history.json")) Assert.True(File.Exists(output));
        if (File.Exists(output + ".loss.png")) Assert.True(File.Exists(output));
    }
}
