using System.Text.RegularExpressions;
using Tailor.Building;
using Tailor.Cli.Commands;
using Tailor.Spec;

namespace Tailor.Tests.Cli;

/// <summary><c>tailor --help</c> and every command's help, as a new user reads them.</summary>
[Trait("Category", "Slow")]
public class HelpTests
{
    private static readonly string[] Commands = ["prepare", "train", "evaluate", "predict", "info", "reset", "studio", "layers", "bench", "bench train"];

    private static string Help(string command)
    {
        var r = CliRunner.Run([.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Stdout;
    }

    [Fact]
    public void RootHelp_ListsTheCommandsInWorkflowOrder()
    {
        string help = Help("");
        var listed = Regex.Matches(help, @"^  ([a-z]+)\b", RegexOptions.Multiline).Select(m => m.Groups[1].Value)
            .Where(name => name is "prepare" or "train" or "evaluate" or "predict" or "info" or "reset" or "studio" or "layers" or "bench").ToList();
        Assert.Equal(["prepare", "train", "evaluate", "predict", "info", "reset", "studio", "layers", "bench"], listed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("prepare")]
    [InlineData("train")]
    [InlineData("evaluate")]
    [InlineData("predict")]
    [InlineData("info")]
    [InlineData("reset")]
    [InlineData("studio")]
    [InlineData("layers")]
    [InlineData("bench")]
    [InlineData("bench train")]
    public void EveryHelp_HasAnExampleOfItsCommand_AndWritesDefaultsOneWay(string command)
    {
        string help = Help(command).ReplaceLineEndings("\n");
        var example = Regex.Match(help, @"\nExamples?:\n((?:  .+\n?)+)");
        Assert.True(example.Success, help);
        Assert.Contains($"  tailor {command}".TrimEnd(), example.Groups[1].Value);
        // Every default is written "(default: X)": never "[default: X]", "Default: X", "X (default)" or "(default X)".
        string flat = Regex.Replace(help, @"\s+", " ");
        int all = Regex.Matches(flat, "default", RegexOptions.IgnoreCase).Count;
        int uniform = Regex.Matches(flat, @"\(default: ").Count;
        Assert.True(all == uniform, $"{all - uniform} default(s) written another way in:\n{help}");
    }

    [Fact]
    public void EveryCommand_IsCoveredAbove()
    {
        Assert.Equal(Tailor.Cli.Commands.Registry.Names, Commands.Where(c => !c.Contains(' ')));
    }

    [Fact]
    public void AllowedValueExamples_FitTheirOwnHyperparameter_AndHoldItsDefaults()
    {
        var tables = new[] { DefaultHyperparameters.For(OptimizerKind.Adam), DefaultHyperparameters.For(OptimizerKind.Sgd), DefaultHyperparameters.Reference() };
        Assert.Equal(PrepareCommand.HyperOptions.Length, PrepareCommand.HyperOptions.Select(h => h.Example).Distinct().Count());
        foreach (var (_, allowedName, name, _, example) in PrepareCommand.HyperOptions)
        {
            var allowed = OptionParsing.Allowed(allowedName, example);
            foreach (var table in tables)
                if (table.TryGetValue(name, out var h))
                    Assert.True(allowed.Contains(Convert.ToDouble(h.Default, System.Globalization.CultureInfo.InvariantCulture)),
                        $"{allowedName} {example} leaves out the default {h.Default}");
        }
        string help = Regex.Replace(Help("prepare"), @"\s+", " ");
        Assert.Contains("e.g. 1e-10..1e-6", help);
        Assert.DoesNotContain("1,2,8,16) or a range (0..1)", help);
    }
}
