using System.CommandLine;

namespace Tailor.Cli.Commands;

/// <summary>Commands beyond the foundation's four; each file adds itself here.</summary>
internal static class Registry
{
    public static IEnumerable<Func<Command>> Extra => [];
}
