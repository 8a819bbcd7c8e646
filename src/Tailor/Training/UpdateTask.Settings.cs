using Tailor.Images;
using Tailor.Spec;
using Tailor.Training.Optimizers;
using Tailor.Training.Schedules;
using H = Tailor.Spec.HyperparameterNames;

namespace Tailor.Training;

public sealed partial class UpdateTask
{
    /// <summary>The hyperparameters in force, each checked against the model's allowed values.</summary>
    internal sealed record Settings(int Epochs, double LearningRate, int BatchSize, bool Shuffle, int Seed, double Momentum,
        bool Nesterov, double Beta1, double Beta2, double Epsilon, double WeightDecay,
        AugmentationOptions Augmentation, LearningRateSchedule? Schedule);

    private Settings ResolveSettings(UpdateSpec spec)
    {
        var o = _options;
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
        int epochs = (int)Get(H.Epochs, o.Epochs, 10);
        var s = new Settings(
            Epochs: epochs,
            LearningRate: Get(H.LearningRate, o.LearningRate, 0.001),
            BatchSize: (int)Get(H.BatchSize, o.BatchSize, 8),
            Shuffle: Get(H.Shuffle, B(o.Shuffle), 1) == 1,
            Seed: (int)Get(H.Seed, o.Seed, 42),
            Momentum: Get(H.Momentum, o.Momentum, 0),
            Nesterov: Get(H.Nesterov, B(o.Nesterov), 0) == 1,
            Beta1: Get(H.Beta1, o.Beta1, 0.9),
            Beta2: Get(H.Beta2, o.Beta2, 0.999),
            Epsilon: Get(H.Epsilon, o.Epsilon, 1e-8),
            WeightDecay: Get(H.WeightDecay, o.WeightDecay, 0),
            Augmentation: ResolveAugmentation(o.Augmentation, spec),
            Schedule: ResolveSchedule(o.Schedule, spec, epochs));
        if (s.Epochs < 1) throw new TailorException($"epochs = {s.Epochs}; at least 1 is needed.");
        if (s.BatchSize < 1) throw new TailorException($"batch_size = {s.BatchSize}; at least 1 is needed.");
        if (o.CheckpointEvery < 0) throw new TailorException($"--checkpoint-every {o.CheckpointEvery}: give 0 (never) or a positive number of epochs.");
        if (o.CheckpointEvery > 0 && o.CheckpointPath is null) throw new TailorException("Checkpoints every N epochs need a checkpoint path.");
        return s;
    }

    /// <summary>The augmentation in force: the options', else the model's, else <see cref="AugmentationOptions.FewShot"/>.</summary>
    internal static AugmentationOptions ResolveAugmentation(AugmentationOptions? given, UpdateSpec spec) =>
        given ?? (spec.Augmentation is { } text ? AugmentationOptions.Parse(text) : AugmentationOptions.FewShot);

    /// <summary>The schedule in force: the options', else the model's over this run's epochs, else none (constant).</summary>
    internal static LearningRateSchedule? ResolveSchedule(LearningRateSchedule? given, UpdateSpec spec, int epochs) =>
        given ?? (spec.LearningRateSchedule is { } text ? LearningRateSchedule.Parse(text, epochs) : null);

    private static Optimizer CreateOptimizer(OptimizerKind kind, Settings s) => kind == OptimizerKind.Sgd
        ? new Sgd(s.LearningRate, s.Momentum, s.Nesterov, s.WeightDecay)
        : new Adam(s.LearningRate, s.Beta1, s.Beta2, s.Epsilon, s.WeightDecay);

    /// <summary>The parameters and optimizer state at the end of the last completed epoch, kept in memory
    /// so that a cancelled or diverged run hands back (and checkpoints) that epoch's weights exactly.</summary>
    private sealed class Snapshot
    {
        private readonly float[][] _values;
        // One stream for the whole task, rewritten in place each epoch: the optimizer state of a fine-tuned
        // convolution is tens of MB, and a new buffer per epoch left that much garbage on the large-object heap
        // every epoch (the process grew by ~55 MB per epoch until a full collection).
        private readonly MemoryStream _optimizerState = new();

        public Snapshot(IReadOnlyList<ITrainableParameter> parameters, Optimizer optimizer)
        {
            _values = parameters.Select(p => new float[p.Value.Length]).ToArray();
            Capture(parameters, optimizer);
        }

        public void Capture(IReadOnlyList<ITrainableParameter> parameters, Optimizer optimizer)
        {
            for (int i = 0; i < parameters.Count; i++) parameters[i].Value.CopyTo(_values[i]);
            _optimizerState.Position = 0;
            _optimizerState.SetLength(0);
            using var writer = new BinaryWriter(_optimizerState, System.Text.Encoding.UTF8, leaveOpen: true);
            optimizer.SaveState(writer);
        }

        public void Restore(IReadOnlyList<ITrainableParameter> parameters, Optimizer optimizer)
        {
            for (int i = 0; i < parameters.Count; i++) _values[i].CopyTo(parameters[i].Value);
            _optimizerState.Position = 0;
            using var reader = new BinaryReader(_optimizerState, System.Text.Encoding.UTF8, leaveOpen: true);
            optimizer.LoadState(reader);
        }
    }
}
