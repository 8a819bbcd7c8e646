using Tailor.Cli;

namespace Tailor.Tests.Spec;

/// <summary>Runs <see cref="CliApp.RunAsync"/> in this process with stdout and stderr captured (a process per run
/// would cost a second each). Console output is process-wide: only tests in the "Serial" collection use it. An
/// exception escaping the CLI escapes this too.</summary>
internal static class SpecCli
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var oldStatus = StatusLine.Error;
        Console.SetOut(stdout);
        Console.SetError(stderr);
        StatusLine.Error = new StatusLine(stderr, terminal: false);
        try
        {
            int code = await CliApp.RunAsync(args);
            return new Result(code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
            StatusLine.Error = oldStatus;
        }
    }
}
