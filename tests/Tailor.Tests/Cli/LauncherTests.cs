using System.Diagnostics;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary>The <c>./tailor</c> launcher at the repository root, called as users call it: through a symlink on PATH.</summary>
[Trait("Category", "Slow")]
public class LauncherTests
{
    [Fact]
    public void ThroughASymlink_RunsTheCommandLine_AndDoesNotRebuildWhenUpToDate()
    {
        if (OperatingSystem.IsWindows()) return;   // a bash script
        using var dir = new TempFolder();
        string link = dir.File("tailor");
        File.CreateSymbolicLink(link, Path.Combine(ReadmeTests.RepositoryRoot(), "tailor"));

        // The first call may build (Release, once); it says so on stderr. The second finds the build up to date.
        var first = Run(link, dir.Path, "--help");
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains("prepare", first.Stdout);
        if (first.Stderr.Length > 0) Assert.StartsWith("tailor: ", first.Stderr);
        Assert.DoesNotContain("MSB1009", first.Stderr);

        var second = Run(link, dir.Path, "--help");
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal(first.Stdout, second.Stdout);
        Assert.DoesNotContain("building", second.Stderr);
    }

    private static CliRunner.Result Run(string launcher, string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(launcher)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["COLUMNS"] = "120";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new TimeoutException(launcher); }
        return new CliRunner.Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
