using System.Collections.Immutable;
using System.CommandLine;

namespace Tailor.Cli.Commands;

/// <summary>Every command of <c>tailor</c>, in one immutable list: the order of the workflow, which is the order
/// <c>tailor --help</c> lists them in. A new command is added here and nowhere else.</summary>
internal static class Registry
{
    /// <summary>Creates each command (a fresh <see cref="Command"/> per call: System.CommandLine's commands are mutable).</summary>
    public static readonly ImmutableArray<Func<Command>> Commands =
    [
        PrepareCommand.Create,
        TrainCommand.Create,
        EvaluateCommand.Create,
        PredictCommand.Create,
        InfoCommand.Create,
        ResetCommand.Create,
        StudioCommand.Create,
        LayersCommand.Create,
        BenchCommand.Create,
    ];

    /// <summary>The commands' names, in <see cref="Commands"/>' order.</summary>
    public static ImmutableArray<string> Names => [.. Commands.Select(create => create().Name)];
}
