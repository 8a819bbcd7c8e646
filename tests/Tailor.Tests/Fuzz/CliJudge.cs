using Tailor.Cli;
using Tailor.Tests.Cli;

namespace Tailor.Tests.Fuzz;

/// <summary>What a fuzzed CLI run may end in: success (0), a clear error (1), a usage error (2, or 1 before
/// usage errors had their own code). An internal error (<see cref="CliApp.InternalErrorExitCode"/>) is a bug.</summary>
internal static class CliJudge
{
    public static string? Complaint(InProcessCli.Result result)
    {
        if (result.ExitCode == CliApp.InternalErrorExitCode)
            return $"internal error (exit {result.ExitCode}): {Shorten(result.Stderr)}";
        if (result.ExitCode is not (0 or 1 or 2))
            return $"exit {result.ExitCode}; stderr: {Shorten(result.Stderr)}";
        foreach (var internalText in (string[])["Object reference not set", "Unhandled exception", "   at Tailor."])
            if (result.Stderr.Contains(internalText, StringComparison.Ordinal) || result.Stdout.Contains(internalText, StringComparison.Ordinal))
                return $"exit {result.ExitCode} but the output passes on '{internalText}': {Shorten(result.Stderr)}";
        return null;
    }

    private static string Shorten(string text) => text.Length <= 2000 ? text : text[..2000] + $"… ({text.Length} characters)";
}
