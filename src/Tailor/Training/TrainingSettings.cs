using System.Globalization;
using System.Text.Json.Nodes;
using Tailor.Images;
using Tailor.Spec;
using Tailor.Training.Optimizers;
using Tailor.Training.Schedules;
using H = Tailor.Spec.HyperparameterNames;
using U = Tailor.TrainingDefaults.WhenUnspecified;

namespace Tailor.Training;

/// <summary>
/// The settings of one training, resolved once by <see cref="TrainingPlan.Create"/>: each value given in
/// <see cref="TrainingOptions"/>, else the model's default, checked against the model's allowed values.
/// A checkpoint records them, and resuming from it checks that they are the same.
/// </summary>
/// <param name="Optimizer">The model's optimizer.</param>
/// <param name="Epochs">Passes over the training set.</param>
/// <param name="LearningRate">The base learning rate (a <see cref="Schedule"/> scales it per epoch).</param>
/// <param name="BatchSize">Examples per mini-batch.</param>
/// <param name="Shuffle">Whether each epoch reorders the examples (by seed and epoch).</param>
/// <param name="Seed">Seed for shuffling, augmentation and dropout.</param>
/// <param name="Momentum">SGD momentum.</param>
/// <param name="Nesterov">SGD Nesterov momentum.</param>
/// <param name="Beta1">Adam β₁.</param>
/// <param name="Beta2">Adam β₂.</param>
/// <param name="Epsilon">Adam ε.</param>
/// <param name="WeightDecay">L2 weight decay λ.</param>
/// <param name="Augmentation">On-the-fly augmentation of the training examples.</param>
/// <param name="Schedule">The learning rate per epoch, or null for a constant rate.</param>
public sealed record TrainingSettings(OptimizerKind Optimizer, int Epochs, double LearningRate, int BatchSize, bool Shuffle, int Seed, double Momentum,
    bool Nesterov, double Beta1, double Beta2, double Epsilon, double WeightDecay, AugmentationOptions Augmentation, LearningRateSchedule? Schedule)
{
    /// <summary>The learning rate of epoch <paramref name="epoch"/> (0-based) by the schedule, or the base rate without one.</summary>
    public double LearningRateAt(int epoch) => Schedule?.LearningRateAt(epoch, Epochs, LearningRate) ?? LearningRate;

    internal static TrainingSettings Resolve(TrainingOptions o, UpdateSpec spec)
    {
        double Get(string name, double? given, double fallback)
        {
            if (!spec.Hyperparameters.TryGetValue(name, out var h))
            {
                if (given is null) return fallback;
                throw new TailorException($"{name} does not apply to this model's {spec.Optimizer.ToString().ToLowerInvariant()} optimizer; " +
                    $"it takes: {string.Join(", ", spec.Hyperparameters.Keys.Order())}.");
            }
            double value = given ?? h.Default;
            h.Check(name, value);
            return value;
        }
        static double? B(bool? b) => b is null ? null : b.Value ? 1 : 0;
        var s = new TrainingSettings(
            Optimizer: spec.Optimizer,
            Epochs: (int)Get(H.Epochs, o.Epochs, U.Epochs),
            LearningRate: Get(H.LearningRate, o.LearningRate, U.LearningRate),
            BatchSize: (int)Get(H.BatchSize, o.BatchSize, U.BatchSize),
            Shuffle: Get(H.Shuffle, B(o.Shuffle), U.Shuffle ? 1 : 0) == 1,
            Seed: (int)Get(H.Seed, o.Seed, U.Seed),
            Momentum: Get(H.Momentum, o.Momentum, U.Momentum),
            Nesterov: Get(H.Nesterov, B(o.Nesterov), U.Nesterov ? 1 : 0) == 1,
            Beta1: Get(H.Beta1, o.Beta1, U.Beta1),
            Beta2: Get(H.Beta2, o.Beta2, U.Beta2),
            Epsilon: Get(H.Epsilon, o.Epsilon, U.Epsilon),
            WeightDecay: Get(H.WeightDecay, o.WeightDecay, U.WeightDecay),
            Augmentation: ResolveAugmentation(o.Augmentation, spec),
            Schedule: ResolveSchedule(o.Schedule, spec));
        if (s.Epochs < 1) throw new TailorException($"epochs = {s.Epochs}; at least 1 is needed.");
        if (s.BatchSize < 1) throw new TailorException($"batch_size = {s.BatchSize}; at least 1 is needed.");
        if (o.CheckpointEvery < 0) throw new TailorException($"CheckpointEvery = {o.CheckpointEvery}: give 0 (never) or a positive number of epochs.");
        if (o.CheckpointEvery > 0 && o.CheckpointPath is null) throw new TailorException("Checkpoints every N epochs need a checkpoint path.");
        return s;
    }

    /// <summary>The augmentation in force: the options', else the model's, else <see cref="AugmentationOptions.FewShot"/>.</summary>
    internal static AugmentationOptions ResolveAugmentation(AugmentationOptions? given, UpdateSpec spec) =>
        given ?? spec.TrainingAugmentation ?? AugmentationOptions.FewShot;

    /// <summary>The schedule in force: the options', else the model's (a cosine falls over the run's epochs), else none (constant).</summary>
    internal static LearningRateSchedule? ResolveSchedule(LearningRateSchedule? given, UpdateSpec spec) =>
        given ?? spec.Schedule;

    /// <summary>A new optimizer of the model's kind with these settings.</summary>
    internal Optimizer CreateOptimizer() => Optimizer == OptimizerKind.Sgd
        ? new Sgd(LearningRate, Momentum, Nesterov, WeightDecay)
        : new Adam(LearningRate, Beta1, Beta2, Epsilon, WeightDecay);

    /// <summary>The settings a resumed run must share with the checkpoint's, by name (the epochs may differ: a run can be extended).</summary>
    private IEnumerable<(string Name, string Value)> Compared()
    {
        static string N(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        yield return (H.Seed, Seed.ToString(CultureInfo.InvariantCulture));
        yield return ("optimizer", Optimizer.ToString().ToLowerInvariant());
        yield return (H.LearningRate, N(LearningRate));
        yield return (H.BatchSize, BatchSize.ToString(CultureInfo.InvariantCulture));
        yield return (H.Shuffle, Shuffle ? "true" : "false");
        if (Optimizer == OptimizerKind.Sgd)
        {
            yield return (H.Momentum, N(Momentum));
            yield return (H.Nesterov, Nesterov ? "true" : "false");
        }
        else
        {
            yield return (H.Beta1, N(Beta1));
            yield return (H.Beta2, N(Beta2));
            yield return (H.Epsilon, N(Epsilon));
        }
        yield return (H.WeightDecay, N(WeightDecay));
        yield return ("augmentation", Augmentation.ToString());
        yield return ("schedule", Schedule?.ToString() ?? "constant");
    }

    /// <summary>The settings as a checkpoint records them (<c>{"seed":"42","learning_rate":"0.001",…,"epochs":"10"}</c>).</summary>
    internal JsonObject ToJson()
    {
        var json = new JsonObject();
        foreach (var (name, value) in Compared()) json[name] = value;
        json[H.Epochs] = Epochs.ToString(CultureInfo.InvariantCulture);
        return json;
    }

    /// <summary>Each setting recorded in <paramref name="recorded"/> (<see cref="ToJson"/>) that differs from these, as
    /// "name VALUE (this run: VALUE)"; settings a checkpoint does not record are not compared.</summary>
    internal IReadOnlyList<string> DifferencesFrom(JsonObject recorded)
    {
        var differences = new List<string>();
        foreach (var (name, value) in Compared())
            if (recorded[name] is JsonValue v && v.TryGetValue(out string? stored) && stored != value)
                differences.Add($"{name} {stored} (this run: {value})");
        return differences;
    }
}
