using System.Globalization;
using Tailor.Data;

namespace Tailor.Training;

public sealed partial class UpdateTask
{
    /// <summary>The training and validation examples: the folders as given, or with
    /// <see cref="TrainingOptions.ValidationSplit"/> a stratified part of the training folder held out.</summary>
    internal static (IReadOnlyList<LabeledExample> Train, IReadOnlyList<LabeledExample>? Validation) SplitExamples(
        LabeledFolder data, LabeledFolder? validationFolder, double fraction, int seed)
    {
        if (fraction == 0) return (data.Examples, validationFolder?.Examples);
        var held = HoldOut(data, fraction, seed);
        var train = new List<LabeledExample>(data.Examples.Count - held.Count);
        var validation = new List<LabeledExample>(held.Count);
        for (int i = 0; i < data.Examples.Count; i++)
            (held.Contains(i) ? validation : train).Add(data.Examples[i]);
        return (train, validation);
    }

    /// <summary>
    /// The indexes of the examples to hold out: of each label's n examples, round(<paramref name="fraction"/> · n)
    /// and at least one, drawn by a permutation that depends only on (<paramref name="seed"/>, the label's place).
    /// The split is by example, before augmentation, so every augmented variant of a photo stays on its photo's side.
    /// </summary>
    /// <exception cref="TailorException">A label has too few examples to hold one out and keep one to train on.</exception>
    internal static HashSet<int> HoldOut(LabeledFolder folder, double fraction, int seed)
    {
        if (TooFewToHoldOut(folder, fraction) is var (label, count))
            throw new TailorException(string.Create(CultureInfo.InvariantCulture,
                $"ValidationSplit {fraction} holds out at least one example of every label and keeps one to train on, but label " +
                $"'{label}' has {count} example{(count == 1 ? "" : "s")} in '{folder.Root}'. Add examples of '{label}', or give a validation folder instead."));
        var held = new HashSet<int>();
        for (int l = 0; l < folder.Labels.Count; l++)
        {
            var indexes = ExamplesOf(folder, l);
            // A stream of its own (not the epochs' shuffles), stable across .NET versions as EpochShuffle is.
            var order = EpochShuffle.Permutation(seed ^ SplitStream, l, indexes.Count);
            for (int j = 0; j < HeldOutCount(fraction, indexes.Count); j++) held.Add(indexes[order[j]]);
        }
        return held;
    }

    /// <summary>The first label that cannot spare an example at <paramref name="fraction"/>, with its example count; null if none.</summary>
    internal static (string Label, int Count)? TooFewToHoldOut(LabeledFolder folder, double fraction)
    {
        for (int l = 0; l < folder.Labels.Count; l++)
        {
            int n = ExamplesOf(folder, l).Count;
            if (n - HeldOutCount(fraction, n) < 1) return (folder.Labels[l], n);
        }
        return null;
    }

    private static int HeldOutCount(double fraction, int n) => Math.Max(1, (int)Math.Round(fraction * n, MidpointRounding.AwayFromZero));

    private static List<int> ExamplesOf(LabeledFolder folder, int label)
    {
        var indexes = new List<int>();
        for (int i = 0; i < folder.Examples.Count; i++)
            if (LabelComparer.Instance.Equals(folder.Examples[i].Label, folder.Labels[label])) indexes.Add(i);
        return indexes;
    }

    private const long SplitStream = 0x56414C4944; // "VALID"

    /// <summary>Checks the options that choose the epoch kept and when to stop, against the data there is.</summary>
    internal static void CheckValidationOptions(TrainingOptions o, LabeledFolder? validation)
    {
        if (!(o.ValidationSplit == 0 || o.ValidationSplit > 0 && o.ValidationSplit <= MaxValidationSplit))
            throw new TailorException(string.Create(CultureInfo.InvariantCulture,
                $"ValidationSplit = {o.ValidationSplit}: give 0 (no split) or a fraction in (0, {MaxValidationSplit}] of each label's examples to hold out."));
        if (o.ValidationSplit > 0 && validation is not null)
            throw new TailorException($"ValidationSplit holds out part of the training examples, but a validation folder ('{validation.Root}') is given too; use one or the other.");
        if (o.Patience < 0)
            throw new TailorException($"Patience = {o.Patience}: give 0 (never stop early) or a positive number of epochs.");
        bool hasValidation = validation is not null || o.ValidationSplit > 0;
        if (!hasValidation && (o.KeepBest == true || o.Patience > 0))
            throw new TailorException($"{(o.KeepBest == true ? "KeepBest" : "Patience")} compares epochs by their validation loss, and there is no validation data: " +
                "give a validation folder or set ValidationSplit.");
    }

    /// <summary>The largest <see cref="TrainingOptions.ValidationSplit"/>: past half, the held-out part outweighs what trains.</summary>
    public const double MaxValidationSplit = 0.5;

    /// <summary>Which epoch's weights the task hands back, and when patience runs out.</summary>
    /// <remarks>Without keep-best the kept epoch is the last completed one (the snapshot takes every epoch); with it,
    /// the epoch with the lowest validation loss (the snapshot takes only an epoch that lowers it). A resumed run starts
    /// from the checkpoint's epoch: earlier epochs' weights are not in the checkpoint, so the best starts there.</remarks>
    private sealed class BestEpoch
    {
        private readonly bool _keepBest;
        private readonly int _patience;

        public BestEpoch(bool keepBest, int patience, int firstEpoch, TrainingHistory history)
        {
            _keepBest = keepBest;
            _patience = patience;
            Kept = Epoch = firstEpoch;
            if (firstEpoch > 0 && history.Epochs.LastOrDefault(e => e.Epoch == firstEpoch)?.ValidationLoss is double loss) Loss = loss;
        }

        /// <summary>The epoch whose weights the snapshot holds (0: the weights the task started from).</summary>
        public int Kept { get; private set; }

        /// <summary>The epoch with the lowest validation loss so far, and that loss.</summary>
        public int Epoch { get; private set; }
        public double Loss { get; private set; } = double.PositiveInfinity;

        public bool StoppedEarly { get; private set; }

        public string KeptWhy => _keepBest && Kept > 0 ? " (the lowest validation loss)" : "";

        /// <summary>Records an epoch's validation loss (null without validation data); true when the snapshot
        /// should take this epoch's weights.</summary>
        public bool Observe(int epoch, double? validationLoss)
        {
            bool improved = validationLoss is double loss && loss < Loss; // NaN never improves
            if (improved)
            {
                Loss = validationLoss!.Value;
                Epoch = epoch;
            }
            if (_keepBest && !improved) return false;
            Kept = epoch;
            return true;
        }

        /// <summary>True when the validation loss has not improved for the patience's number of epochs.</summary>
        public bool PatienceRanOut(int epoch) => StoppedEarly = _patience > 0 && epoch - Epoch >= _patience;

        public string? StopReason(int completed, int epochs) => StoppedEarly
            ? string.Create(CultureInfo.InvariantCulture,
                $"Stopped early after epoch {completed} of {epochs}: the validation loss has not improved for {_patience} epoch{(_patience == 1 ? "" : "s")} " +
                $"(lowest {Loss:G4} at epoch {Epoch}); the weights of epoch {Kept} are kept.")
            : null;
    }
}
