using System.CommandLine;

namespace Tailor.Cli.Commands;

internal static class PredictCommand
{
    public static Command Create() => new("predict", "(coming with the image pipeline)");
}
