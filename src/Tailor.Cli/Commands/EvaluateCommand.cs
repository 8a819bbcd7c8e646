using System.CommandLine;

namespace Tailor.Cli.Commands;

internal static class EvaluateCommand
{
    public static Command Create() => new("evaluate", "(coming with the image pipeline)");
}
