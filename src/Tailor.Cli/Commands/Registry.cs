using System.CommandLine;

namespace Tailor.Cli.Commands;

/// <summary>Commands beyond the foundation's four.</summary>
internal static class Registry
{
    public static IEnumerable<Func<Command>> Extra => [TrainCommand.Create, BenchCommand.Create];
}
