using System.Diagnostics;
using System.Text;

namespace Tailor.Tests.Cli;

/// <summary>Runs the real <c>tailor</c> CLI (Tailor.Cli.dll next to the tests) in its own process, so
/// exit codes, stdout and stderr are exactly what a user sees.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tailor.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["COLUMNS"] = "200";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("tailor " + string.Join(" ", args)); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
