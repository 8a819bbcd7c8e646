using System.Diagnostics;
using System.Net.Sockets;
using Tailor.Images;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>Only regular files are read: a named pipe, socket or device (or a symbolic link to one) in a data folder is
/// skipped with a reason, and named directly it is an error — never a wait for a writer that never comes.</summary>
[Trait("Category", "Slow")]
public sealed class SpecialFileTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A guard, not a measurement: the old code waited for ever on a pipe.</summary>
    private static readonly TimeSpan Hang = TimeSpan.FromMinutes(2);

    private static void MakeFifo(string path)
    {
        using var p = Process.Start("mkfifo", [path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    private static CliRunner.Result Run(params string[] args)
    {
        using var p = Process.Start(CliRunner.StartInfo(null, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Hang))
        {
            p.Kill(true);
            Assert.Fail("hung: tailor " + string.Join(" ", args));
        }
        return new CliRunner.Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public async Task ImageLoader_NamedPipe_IsRefused_WithoutOpeningIt()
    {
        if (!OperatingSystem.IsLinux()) return;
        string pipe = _dir.File("pipe.jpg");
        MakeFifo(pipe);
        var e = await Task.Run(() => Assert.Throws<TailorException>(() => ImageLoader.Load(pipe))).WaitAsync(Hang);
        Assert.Equal($"'{pipe}' is a named pipe (FIFO), not a regular file; an image file was expected (only regular files are read).", e.Message);
    }

    [Fact]
    public void Evaluate_DataFolderWithPipeSocketDeviceAndLinks_SkipsEachWithItsReason()
    {
        if (!OperatingSystem.IsLinux()) return;
        string data = _dir.HandsSubset("data", ("✊", "✊", 2), ("✋", "✋", 2));
        string fist = Path.Combine(data, "✊"), hand = Path.Combine(data, "✋");
        MakeFifo(Path.Combine(fist, "pipe.jpg"));
        File.CreateSymbolicLink(Path.Combine(hand, "link-to-pipe.jpg"), Path.Combine(fist, "pipe.jpg"));
        File.CreateSymbolicLink(Path.Combine(hand, "zero.jpg"), "/dev/zero");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(fist, "socket.jpg")));

        var r = Run("evaluate", fixture.Path, "--data", data);

        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Matches(@"Accuracy [0-9.]+ % \([0-4]/4\)", r.Stdout);   // the four photos are evaluated
        string text = r.Stdout.Replace("\n", "");   // a long line may wrap in the table
        Assert.Contains("4 skipped", text);
        Assert.Contains("pipe.jpg' is a named pipe (FIFO), not a regular file", text);
        Assert.Contains("link-to-pipe.jpg' is a named pipe (FIFO)", text);
        Assert.Contains("zero.jpg' is a character device", text);
        Assert.Contains("socket.jpg' is a socket", text);
    }

    [Fact]
    public void Train_DataFolderWithPipe_NamesIt_AndSkipBadSkipsIt()
    {
        if (!OperatingSystem.IsLinux()) return;
        string data = _dir.HandsSubset("data", ("✊", "✊", 2), ("✋", "✋", 2));
        MakeFifo(Path.Combine(data, "✊", "pipe.jpg"));
        string output = _dir.File("out.onnx");

        var refused = Run("train", fixture.Path, "--data", data, "--epochs", "1", "--augment", "none", "--out", output);
        Assert.True(refused.ExitCode == 1, refused.Stdout + refused.Stderr);
        Assert.Contains("pipe.jpg' is a named pipe (FIFO)", refused.Stderr);
        Assert.False(File.Exists(output));

        // --keep-examples hashes every training file too.
        var skipped = Run("train", fixture.Path, "--data", data, "--epochs", "1", "--augment", "none", "--out", output, "--skip-bad", "--keep-examples");
        Assert.True(skipped.ExitCode == 0, skipped.Stdout + skipped.Stderr);
        Assert.Contains("pipe.jpg' is a named pipe (FIFO)", skipped.Stdout.Replace("\n", ""));
    }

    [Fact]
    public void NamedDirectly_PipeAsImageModelOrCheckpoint_IsAnError()
    {
        if (!OperatingSystem.IsLinux()) return;
        string pipe = _dir.File("pipe");
        MakeFifo(pipe);

        var predict = Run("predict", fixture.Path, pipe);
        Assert.Equal(1, predict.ExitCode);
        Assert.Contains($"error: '{pipe}' is a named pipe (FIFO), not a regular file; an image file was expected", predict.Stderr);

        var info = Run("info", pipe);
        Assert.Equal(1, info.ExitCode);
        Assert.Contains($"error: '{pipe}' is a named pipe (FIFO), not a regular file; an ONNX model file was expected", info.Stderr);

        var resume = Run("train", fixture.Path, "--data", TestData.HandsTrain, "--epochs", "1", "--augment", "none", "--out", _dir.File("m.onnx"), "--resume", pipe);
        Assert.Equal(1, resume.ExitCode);
        Assert.Contains($"'{pipe}' is a named pipe (FIFO), not a regular file; a checkpoint was expected", resume.Stderr);
        Assert.DoesNotContain("   at ", predict.Stderr + info.Stderr + resume.Stderr);
    }
}
