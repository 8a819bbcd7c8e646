using Tailor.Tests.Cli;
using Tailor.Tests.Images;

namespace Tailor.Tests.Studio.Web;

/// <summary><c>tailor studio</c> as a user runs it: bad options exit 2 before anything starts, a bad folder exits 1,
/// and a studio started for real prints its address and stops at Ctrl+C.</summary>
public sealed class StudioCommandTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("-1")]
    [InlineData("65536")]
    [InlineData("http")]
    [InlineData("80.5")]
    public void Port_OutOfRange_Exits2_NamingTheRange(string port)
    {
        var r = CliRunner.Run("studio", "--port", port, "--workspace", _dir.File("ws"));
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.Contains("--port", r.Stderr);
        Assert.Contains("a whole number from 0 to 65,535", r.Stderr);
        Assert.False(Directory.Exists(_dir.File("ws")), "nothing is created before the options are checked");
    }

    [Fact]
    public void Listen_NotAnAddress_Exits2()
    {
        var r = CliRunner.Run("studio", "--listen", "example.com", "--workspace", _dir.File("ws"));
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}\n{r.Stderr}");
        Assert.Contains("--listen: 'example.com' is not an IP address", r.Stderr);
    }

    [Fact]
    public void Import_OfAMissingFolder_Exits1_NamingIt()
    {
        var r = CliRunner.Run("studio", "--import", _dir.File("nothing"), "--workspace", _dir.File("ws"), "--port", "0");
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.Stderr}");
        Assert.Contains("--import", r.Stderr);
        Assert.Contains("the folder does not exist", r.Stderr);
    }

    [Fact]
    public void Workspace_ThatIsAFile_Exits1()
    {
        File.WriteAllText(_dir.File("file"), "x");
        var r = CliRunner.Run("studio", "--workspace", _dir.File("file"), "--port", "0");
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.Stderr}");
        Assert.Contains("is a file; give a folder", r.Stderr);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Listen_OnEveryInterface_Warns_PrintsTheUrl_AndStopsAtCtrlC()
    {
        if (!OperatingSystem.IsLinux()) return;
        var r = CliRunner.RunAndInterrupt(line => line.StartsWith("Press Ctrl+C", StringComparison.Ordinal),
            "studio", "--listen", "0.0.0.0", "--port", "0", "--workspace", _dir.File("ws"));
        Assert.True(r.ExitCode == 130, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.Contains("warning: listening on 0.0.0.0 (every interface), not on this machine only", r.Stderr);
        Assert.Matches(@"Tailor Studio: http://127\.0\.0\.1:\d+/", r.Stdout);
        Assert.Contains("Studio stopped.", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Loopback_DoesNotWarn()
    {
        if (!OperatingSystem.IsLinux()) return;
        var r = CliRunner.RunAndInterrupt(line => line.StartsWith("Press Ctrl+C", StringComparison.Ordinal),
            "studio", "--port", "0", "--workspace", _dir.File("ws"));
        Assert.True(r.ExitCode == 130, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.DoesNotContain("warning", r.Stderr);
        Assert.Matches(@"Tailor Studio: http://127\.0\.0\.1:\d+/", r.Stdout);
    }
}
