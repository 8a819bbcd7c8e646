using System.Text.RegularExpressions;

namespace Tailor.Cli;

/// <summary>
/// The library's messages name its options and methods (<c>set SkipBadExamples</c>, <c>PrepareOptions.Capacity</c>); the
/// CLI says the flag that sets them instead (<c>pass --skip-bad</c>, <c>--capacity</c>). Every error the CLI writes goes
/// through <see cref="ForCli"/>; its own messages name no library option, so they pass unchanged.
/// </summary>
internal static partial class CliHints
{
    private static readonly (string Library, string Cli)[] s_phrases =
    [
        ("set PrepareOptions.BaseModelPath to an ONNX file", "pass --base PATH.onnx"),
        ("set ResetOptions.BaseModelPath to that file to restore their weights", "pass that file (--base PATH) to restore their weights"),
        ("PrepareOptions.Capacity", "--capacity"),
        ("PrepareOptions.FeatureOutput", "--feature-output NAME"),
        ("PrepareOptions.Std", "--std"),
        ("mark some with PrepareOptions.UpdatableLayers", "mark some with tailor prepare --updatable NAME"),
        ("ModelBuilder.ConfigureTraining or PrepareOptions.UpdatableLayers marks others", "tailor prepare --updatable marks others"),
        ("ExpandOptions.Capacity", "--capacity"),
        ("ExpandOptions.Labels", "--labels"),
        ("ExpandOptions.ClassifierLayer", "--classifier-layer"),
        ("(ModelBuilder.Prepare)", "(tailor prepare)"),
        ("(ModelBuilder.Prepare makes one)", "(tailor prepare makes one)"),
        ("(set ReplayExamplesPath to the file a training with KeepExamplesPath wrote)",
            "(tailor train --keep-examples writes MODEL.examples and the next tailor train replays it)"),
        ("a training with KeepExamplesPath set writes them", "tailor train --keep-examples writes them"),
        ("KeepExamplesPath is for the other heads", "--keep-examples is for the other heads"),
        ("set Forget", "pass --forget"),
        ("set SkipBadExamples", "pass --skip-bad"),
        ("KNearestNeighbors.Add (or HeadTrainer.TrainKnn)", "tailor train --head knn"),
        ("give one LogisticRegressionTrainingOptions.L2 instead of L2Candidates", "give --l2 a value instead of a list or 'auto'"),
        ("Train on it first (training adds", "Train on it first (tailor train adds"),
        ("add examples with HeadTrainer.TrainKnn, or prepare a new model with a network head (ModelBuilder.Prepare)",
            "add examples with tailor train --head knn, or prepare a new model for --head nn"),
    ];

    /// <summary>The message with the library's option names replaced by the CLI's flags.</summary>
    public static string ForCli(string message)
    {
        foreach (var (library, cli) in s_phrases) message = message.Replace(library, cli, StringComparison.Ordinal);
        return NotUpdatable().Replace(message, "Make one with: tailor prepare --base \"$1\" --feature-output NAME, or --from \"$1\" for a classifier.");
    }

    [GeneratedRegex("""Make one with ModelBuilder\.Prepare \(PrepareOptions\.BaseModelPath "(.*)" and its FeatureOutput\), or ModelBuilder\.Expand for a classifier\.""")]
    private static partial Regex NotUpdatable();
}
