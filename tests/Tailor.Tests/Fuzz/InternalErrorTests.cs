using System.CommandLine;
using Tailor.Cli;

namespace Tailor.Tests.Fuzz;

/// <summary>An exception that is not a <see cref="TailorException"/> is a bug: the CLI says so in one line with exit
/// code 70, and prints the stack trace only when TAILOR_DEBUG is set.</summary>
[Collection("Serial")]
public sealed class InternalErrorTests
{
    private static async Task<Tests.Cli.InProcessCli.Result> RunCrashingCommand()
    {
        Func<Command> crash = () =>
        {
            var command = new Command("crash-for-test");
            Func<ParseResult, int> action = _ => throw new InvalidOperationException("boom");
            command.SetAction(action);
            return command;
        };
        return await Tests.Cli.InProcessCli.RunAsync(["crash-for-test"], [.. Tailor.Cli.Commands.Registry.Commands, crash]);
    }

    [Fact]
    public async Task UnexpectedException_IsAnInternalError_WithExitCode70_AndNoStackTrace()
    {
        string? debug = Environment.GetEnvironmentVariable(CliApp.DebugVariable);
        Environment.SetEnvironmentVariable(CliApp.DebugVariable, null);
        try
        {
            var result = await RunCrashingCommand();
            Assert.Equal(70, result.ExitCode);
            Assert.Contains("error: internal error: System.InvalidOperationException: boom\n", result.Stderr.ReplaceLineEndings("\n"));
            Assert.Contains("This is a bug in Tailor; please report it", result.Stderr);
            Assert.Contains("TAILOR_DEBUG=1", result.Stderr);
            Assert.DoesNotContain(" at ", result.Stderr);
        }
        finally { Environment.SetEnvironmentVariable(CliApp.DebugVariable, debug); }
    }

    [Fact]
    public async Task UnexpectedException_WithTailorDebug_PrintsTheStackTrace()
    {
        string? debug = Environment.GetEnvironmentVariable(CliApp.DebugVariable);
        Environment.SetEnvironmentVariable(CliApp.DebugVariable, "1");
        try
        {
            var result = await RunCrashingCommand();
            Assert.Equal(70, result.ExitCode);
            Assert.Contains("System.InvalidOperationException: boom", result.Stderr);
            Assert.Contains($"at {typeof(InternalErrorTests).FullName}", result.Stderr);
        }
        finally { Environment.SetEnvironmentVariable(CliApp.DebugVariable, debug); }
    }
}
