using System.CommandLine;
using System.CommandLine.Parsing;

namespace Tailor.Cli.Commands;

/// <summary>Which <c>tailor train</c> options apply to which heads, so that an option given for another head is an
/// error rather than silently ignored.</summary>
internal static partial class TrainCommand
{
    /// <summary>The heads <c>--head</c> takes.</summary>
    internal static readonly string[] Heads = ["nn", "logreg", "knn"];

    private static readonly string[] Nn = ["nn"];

    /// <summary>
    /// Options that apply to some heads only. An option not listed applies to every head (--data, --validation,
    /// --out, --seed, --augment, --skip-bad, --json…). A new option for some heads adds one line here; a line for an
    /// option the command does not have is harmless.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string[]> HeadsOf = new Dictionary<string, string[]>
    {
        // Gradient training: epochs, the optimizer, its schedule and checkpoints.
        ["--epochs"] = Nn, ["--lr"] = Nn, ["--batch"] = Nn, ["--momentum"] = Nn, ["--weight-decay"] = Nn, ["--shuffle"] = Nn,
        ["--schedule"] = Nn, ["--checkpoint-every"] = Nn, ["--checkpoint"] = Nn, ["--resume"] = Nn,
        ["--keep-best"] = Nn, ["--patience"] = Nn, ["--validation-split"] = Nn,
        ["--k"] = ["knn"], ["--weighting"] = ["knn"], ["--metric"] = ["knn"],
        ["--l2"] = ["logreg"],
        // A k-NN stores its examples in the model itself.
        ["--keep-examples"] = ["nn", "logreg"],
    };

    /// <summary>Adds "With --head X only." to the help of every option the table limits to some heads.</summary>
    internal static void DescribeHeads(Command command)
    {
        foreach (var option in command.Options)
            if (HeadsOf.TryGetValue(option.Name, out var heads))
                option.Description += $" With {string.Join(" or ", heads.Select(h => "--head " + h))} only.";
    }

    /// <summary>Fails when <paramref name="head"/> is not a head, or when an option given on the command line does
    /// not apply to it (every such option is named, with the heads it applies to).</summary>
    /// <exception cref="TailorException">The head is unknown, or an option does not apply to it.</exception>
    internal static void CheckOptionsApply(ParseResult parse, string head)
    {
        if (!Heads.Contains(head)) throw new UsageException($"--head: '{head}' is not one of {string.Join(", ", Heads)}.");
        var wrong = parse.CommandResult.Children.OfType<OptionResult>()
            .Where(r => !r.Implicit && HeadsOf.TryGetValue(r.Option.Name, out var heads) && !heads.Contains(head))
            .Select(r => $"{r.Option.Name} applies to {string.Join(" and ", HeadsOf[r.Option.Name].Select(h => "--head " + h))} only")
            .ToList();
        if (wrong.Count > 0)
            throw new UsageException($"{string.Join("; ", wrong)}, not to --head {head}: remove {(wrong.Count > 1 ? "them" : "it")} or change --head.");
    }
}
