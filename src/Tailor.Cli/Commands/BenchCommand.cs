using System.CommandLine;

namespace Tailor.Cli.Commands;

/// <summary>
/// <c>tailor bench</c>: where the benchmarks are. They live in bench/Tailor.Bench (BenchmarkDotNet, ML.NET and the
/// training benchmark), so none of them is part of the tool; this entry point says how to run them.
/// </summary>
internal static class BenchCommand
{
    private const string Project = "dotnet run -c Release --project bench/Tailor.Bench --";

    public static Command Create()
    {
        var bench = new Command("bench",
            $"Benchmarks with same-run baselines live in the repository's bench project: {Project} train|kernels|heads|memory|images.");
        var args = new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore, Description = "The benchmark's options (see its --help)." };
        var train = new Command("train",
            "Feature extraction, epochs over cached features, the speedup over recomputing the frozen prefix every epoch (Core ML's way), " +
            $"throughput against raw ONNX Runtime, peak memory and memory growth. Runs from the repository: {Project} train.") { args };
        train.TreatUnmatchedTokensAsErrors = false;
        train.SetAction(parse =>
        {
            CliApp.WriteError($"The training benchmark is not part of the tool. From a clone of the repository, run: {Project} train " +
                string.Join(" ", (parse.GetValue(args) ?? []).Concat(parse.UnmatchedTokens)));
            return 2;
        });
        HelpText.Examples(train, "tailor bench train");
        bench.Add(train);
        HelpText.Examples(bench, "tailor bench train");
        return bench;
    }
}
