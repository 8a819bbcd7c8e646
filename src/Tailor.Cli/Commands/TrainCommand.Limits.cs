using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using H = Tailor.Spec.HyperparameterNames;

namespace Tailor.Cli.Commands;

/// <summary>Values of <c>tailor train</c> options that the model's update spec limits.</summary>
internal static partial class TrainCommand
{
    /// <summary>Option → the hyperparameter whose allowed values (set by tailor prepare --allowed-*) it must respect.</summary>
    internal static readonly IReadOnlyDictionary<string, (string Name, string PrepareOption)> LimitedByModel = new Dictionary<string, (string, string)>
    {
        ["--epochs"] = (H.Epochs, "--allowed-epochs"), ["--lr"] = (H.LearningRate, "--allowed-lr"), ["--batch"] = (H.BatchSize, "--allowed-batch"),
        ["--momentum"] = (H.Momentum, "--allowed-momentum"), ["--weight-decay"] = (H.WeightDecay, "--allowed-weight-decay"), ["--seed"] = (H.Seed, "--allowed-seed"),
    };

    /// <summary>A value given on the command line outside the model's allowed values is a usage error naming the option, the
    /// model and what it allows (the library's own check names the hyperparameter, not the option).</summary>
    /// <exception cref="UsageException">An option's value is not allowed by the model.</exception>
    internal static void CheckAllowedByModel(ParseResult parse, UpdatableModel model, string modelPath)
    {
        foreach (var result in parse.CommandResult.Children.OfType<OptionResult>().Where(r => !r.Implicit))
        {
            if (!LimitedByModel.TryGetValue(result.Option.Name, out var limit) || !model.Spec.Hyperparameters.TryGetValue(limit.Name, out var h)) continue;
            double? value = result.GetValueOrDefault<object?>() switch { int i => i, double d => d, _ => null };
            if (value is double v && !h.Allowed.Contains(v))
                throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                    $"{result.Option.Name} {v}: the model '{modelPath}' allows {limit.Name} {h.Allowed} (tailor prepare {limit.PrepareOption} sets them)."));
        }
    }
}
