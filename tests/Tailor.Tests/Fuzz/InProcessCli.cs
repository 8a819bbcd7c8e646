using Tailor.Cli;
using Tailor.Tests.Cli;

namespace Tailor.Tests.Fuzz;

/// <summary>
/// Runs <see cref="CliApp.RunAsync"/> in this process with stdout and stderr captured, for the tests that run the CLI
/// hundreds of times (a process per run would cost a second each). Console output is process-wide, so only tests in
/// the "Serial" collection may use it; the result is <see cref="CliRunner"/>'s, as if the CLI had run in its own process.
/// </summary>
internal static class InProcessCli
{
    private static readonly Lock s_gate = new();
    private static bool s_registered;

    /// <summary>Registers the commands Program.cs adds (train, bench), once.</summary>
    public static void EnsureCommands()
    {
        lock (s_gate)
        {
            if (s_registered) return;
            CliApp.ExtraCommands.AddRange(Tailor.Cli.Commands.Registry.Extra);
            s_registered = true;
        }
    }

    /// <summary>Runs the CLI. An exception escaping <see cref="CliApp.RunAsync"/> escapes this too (the caller decides).</summary>
    public static async Task<CliRunner.Result> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        EnsureCommands();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var oldStatus = StatusLine.Error;
        Console.SetOut(TextWriter.Synchronized(stdout));
        Console.SetError(TextWriter.Synchronized(stderr));
        StatusLine.Error = new StatusLine(Console.Error, terminal: false);
        try
        {
            int code = await CliApp.RunAsync(args, cancellationToken);
            return new CliRunner.Result(code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
            StatusLine.Error = oldStatus;
        }
    }
}
