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
        // The benchmark's own options, checked as every command's are (usage errors name the flag), then passed on.
        var dataOption = new Option<string?>("--data") { Description = "Training folder, one sub-folder per label (default: the hands data's train/)." };
        var epochsOption = new Option<int>("--epochs") { Description = "Epochs of each timed training run.", DefaultValueFactory = _ => 10 };
        var tasksOption = new Option<int>("--tasks") { Description = "Consecutive training tasks for the memory-growth figure.", DefaultValueFactory = _ => 20 };
        var repeatsOption = new Option<int>("--repeats") { Description = "Runs of the cached path and passes of each throughput figure.", DefaultValueFactory = _ => 3 };
        var jsonOption = new Option<bool>("--json") { Description = "Print one JSON object." };
        var train = new Command("train",
            "Feature extraction, epochs over cached features, the speedup over recomputing the frozen prefix every epoch (Core ML's way), " +
            $"throughput against raw ONNX Runtime, peak memory and memory growth. Runs from the repository: {Project} train.")
        {
            dataOption, epochsOption.WholeIn(1, int.MaxValue), tasksOption.WholeIn(1, int.MaxValue), repeatsOption.WholeIn(1, int.MaxValue), jsonOption,
        };
        train.SetAction(parse =>
        {
            var given = parse.Tokens.Select(t => t.Value).SkipWhile(t => t != "train").Skip(1);
            CliApp.WriteError($"The training benchmark is not part of the tool. From a clone of the repository, run: {Project} train {string.Join(" ", given)}".TrimEnd());
            return 2;
        });
        HelpText.Examples(train, "tailor bench train");
        bench.Add(train);
        HelpText.Examples(bench, "tailor bench train");
        return bench;
    }
}
