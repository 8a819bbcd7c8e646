using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Tailor.Cli.Plots;
using Tailor.Data;
using Tailor.Images;
using Tailor.Training;
using Tailor.Training.Schedules;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor train MODEL --data DIR …</c>: personalize a model on a labelled folder.</summary>
internal static partial class TrainCommand
{
    public static Command Create()
    {
        var modelArg = new Argument<string>("MODEL") { Description = "An updatable ONNX model (tailor prepare makes one)." };
        var dataOption = new Option<string>("--data") { Description = "Training folder: one sub-folder of images per label.", Required = true };
        var validationOption = new Option<string?>("--validation") { Description = "Validation folder, evaluated after every epoch." };
        var splitOption = new Option<double?>("--validation-split") { Description = "Without --validation: hold out this fraction of each label's training photos " +
            "(0 < F ≤ 0.5, at least one per label, chosen by the seed; their augmented copies stay out too) and validate on them after every epoch." };
        var keepBestOption = new Option<bool?>("--keep-best") { Description = "With validation data, write the epoch with the lowest validation loss instead of the last " +
            "(default: on when there is validation data; --keep-best false for the last epoch)." };
        var patienceOption = new Option<int?>("--patience") { Description = "Stop when the validation loss has not improved for N epochs (default: never)." };
        var outOption = new Option<string?>("--out", "-o") { Description = "Where to write the trained model (default: MODEL, replaced atomically)." };
        var headOption = new Option<string>("--head") { Description = "nn: train the model's layers by SGD/Adam; logreg: L-BFGS logistic regression; knn: k-nearest neighbours.", DefaultValueFactory = _ => "nn" };
        var epochsOption = new Option<int?>("--epochs") { Description = "Epochs (default: the model's)." };
        var lrOption = new Option<double?>("--lr") { Description = "Learning rate (default: the model's)." };
        var batchOption = new Option<int?>("--batch") { Description = "Mini-batch size (default: the model's)." };
        var momentumOption = new Option<double?>("--momentum") { Description = "SGD momentum (default: the model's)." };
        var decayOption = new Option<double?>("--weight-decay") { Description = "L2 weight decay (default: the model's)." };
        var seedOption = new Option<int?>("--seed") { Description = "Seed for shuffling, augmentation and dropout (default: the model's)." };
        var shuffleOption = new Option<string?>("--shuffle") { Description = "true or false (default: the model's)." };
        var scheduleOption = new Option<string?>("--schedule") { Description = $"Learning-rate schedule: {LearningRateSchedule.AllowedForms} (default: the model's; cosine for a prepared model)." };
        var augmentOption = new Option<string?>("--augment") { Description = "Augmentations, e.g. flip,rotate:15,crop:0.8,brightness:0.2,variants:8, or none " +
            $"(default: with --head nn the model's, which tailor info shows, {AugmentationOptions.FewShot} for a prepared model; with knn and logreg none)." };
        var checkpointEveryOption = new Option<int>("--checkpoint-every") { Description = "Also write a checkpoint every N epochs (one is always written when Ctrl+C stops the run)." };
        var checkpointOption = new Option<string?>("--checkpoint") { Description = "Checkpoint file (default: OUT.ckpt; removed when the run completes)." };
        var resumeOption = new Option<string?>("--resume") { Description = "Continue from a checkpoint." };
        var skipBadOption = new Option<bool>("--skip-bad") { Description = "Skip unreadable examples (they are listed) instead of failing." };
        var keepExamplesOption = new Option<bool>("--keep-examples")
        {
            Description = "Keep the training examples' features beside the written model (OUT.examples), so a later train can add a label with only its own photos: " +
                "MODEL.examples, when present, is replayed automatically and kept up to date.",
        };
        var forgetOption = new Option<bool>("--forget")
        {
            Description = "Train even when the data lacks labels the model was trained on: they keep their slots but are no longer learned. " +
                "Without it such data is refused.",
        };
        var jsonOption = new Option<bool>("--json") { Description = "One JSON object per epoch, then a final one." };
        var kOption = new Option<int?>("--k") { Description = $"k-NN: neighbours, {Tailor.Heads.KNearestNeighbors.MinK}..{Tailor.Heads.KNearestNeighbors.MaxK} (default: {TrainingDefaults.KnnK})." };
        var weightingOption = new Option<string?>("--weighting") { Description = $"k-NN: uniform or distance (default: {HeadTraining.NameOf(HeadTraining.WeightingNames, TrainingDefaults.KnnWeighting)})." };
        var metricOption = new Option<string?>("--metric") { Description = $"k-NN: euclidean or cosine (default: {HeadTraining.NameOf(HeadTraining.MetricNames, TrainingDefaults.KnnMetric)})." };
        var l2Option = new Option<string?>("--l2")
        {
            Description = "Logistic regression: L2 strength, 'auto' to choose it by 5-fold cross-validation among " +
                "0.0001…0.1, or a comma-separated list of candidates " +
                $"(default: {TrainingDefaults.LogisticRegressionL2.ToString(System.Globalization.CultureInfo.InvariantCulture)}).",
        };
        var deviceOption = DeviceOption.Create();
        var command = new Command("train", "Personalize a model on a labelled folder: new labels take free slots; shows a per-epoch table and writes a loss curve.")
        {
            modelArg, dataOption, validationOption, splitOption, keepBestOption, patienceOption, outOption, headOption, epochsOption, lrOption, batchOption, momentumOption, decayOption, seedOption,
            shuffleOption, scheduleOption, augmentOption, checkpointEveryOption, checkpointOption, resumeOption, skipBadOption, keepExamplesOption, forgetOption, jsonOption,
            kOption, weightingOption, metricOption, l2Option, deviceOption,
        };
        // Whole and finite numbers in their ranges, checked as the command line is parsed (usage errors, exit code 2); the
        // model's own allowed values are checked against them later.
        _ = (epochsOption.WholeIn(1, int.MaxValue), batchOption.WholeIn(1, int.MaxValue), seedOption.WholeIn(0, int.MaxValue), patienceOption.WholeIn(0, int.MaxValue),
            checkpointEveryOption.WholeIn(0, int.MaxValue), kOption.WholeIn(Tailor.Heads.KNearestNeighbors.MinK, Tailor.Heads.KNearestNeighbors.MaxK),
            lrOption.NumberWhere(v => v >= 0, "≥ 0"), momentumOption.NumberWhere(v => v is >= 0 and < 1, "from 0 up to (not including) 1"),
            decayOption.NumberWhere(v => v >= 0, "≥ 0"));
        DescribeHeads(command);
        HelpText.Examples(command,
            "tailor train hands.onnx --data photos/train --validation photos/test",
            "tailor train hands.onnx --data photos/train --epochs 20 --out hands-20.onnx",
            "tailor train hands.onnx --data photos/train --head logreg --l2 auto");
        command.SetAction(async (parse, ct) =>
        {
            string modelPath = parse.GetValue(modelArg)!;
            string output = parse.GetValue(outOption) ?? modelPath;
            bool json = parse.GetValue(jsonOption);
            string head = parse.GetValue(headOption)!.ToLowerInvariant();
            CheckOptionsApply(parse, head);   // before any slow work
            string device = DeviceOption.Get(parse, deviceOption);
            CheckPaths(parse.GetValue(outOption), parse.GetValue(checkpointOption), parse.GetValue(resumeOption));
            var model = UpdatableModel.Load(modelPath);
            CheckAllowedByModel(parse, model, modelPath);
            var train = LabeledFolder.Scan(parse.GetValue(dataOption)!);
            var validation = parse.GetValue(validationOption) is { } v ? LabeledFolder.Scan(v) : null;
            // Null: the model's own augmentation (--head nn) or the head's default (knn, logreg).
            var augmentation = parse.GetValue(augmentOption) is { } augmentText ? OptionParsing.Augmentation("--augment", augmentText) : null;
            // Examples kept beside the model are replayed automatically, and then kept up to date beside the output.
            string? replay = head != "knn" && File.Exists(Features.KeptExamples.PathFor(modelPath)) ? Features.KeptExamples.PathFor(modelPath) : null;
            string? keep = parse.GetValue(keepExamplesOption) || replay is not null ? Features.KeptExamples.PathFor(output) : null;
            var data = new DataOptions(parse.GetValue(skipBadOption), parse.GetValue(forgetOption), replay, keep);
            if (head is "knn" or "logreg")
                return await HeadTraining.RunAsync(head, model, train, validation, output, augmentation, parse.GetValue(seedOption),
                    parse.GetValue(kOption), parse.GetValue(weightingOption), parse.GetValue(metricOption), parse.GetValue(l2Option), json, ct, data, device);
            var (split, keepBest, patience) = (parse.GetValue(splitOption), parse.GetValue(keepBestOption), parse.GetValue(patienceOption));
            CheckValidationOptions(train, validation, split, keepBest, patience);

            int every = parse.GetValue(checkpointEveryOption);
            // Always a checkpoint path: Ctrl+C then leaves one to --resume from (it is removed when a run completes).
            string checkpoint = parse.GetValue(checkpointOption) ?? output + ".ckpt";
            var options = new TrainingOptions
            {
                Epochs = parse.GetValue(epochsOption),
                LearningRate = parse.GetValue(lrOption),
                BatchSize = parse.GetValue(batchOption),
                Momentum = parse.GetValue(momentumOption),
                WeightDecay = parse.GetValue(decayOption),
                Seed = parse.GetValue(seedOption),
                Shuffle = parse.GetValue(shuffleOption) is { } s ? OptionParsing.Bool("--shuffle", s) : null,
                Schedule = ParseSchedule(parse.GetValue(scheduleOption)),
                Augmentation = augmentation,
                CheckpointEvery = every,
                CheckpointPath = checkpoint,
                ResumeFrom = parse.GetValue(resumeOption),
                // Not saved by the task after every epoch: written after the model (below), the history and the loss curve
                // never describe a model that was not written. A resumed run continues the history beside the model.
                ResumeHistory = parse.GetValue(resumeOption) is not null && File.Exists(output + HistorySuffix) ? TrainingHistory.Load(output + HistorySuffix) : null,
                SkipBadExamples = data.SkipBad,
                Forget = data.Forget,
                ReplayExamplesPath = data.Replay,
                KeepExamplesPath = data.Keep,
                ValidationSplit = split ?? TrainingDefaults.ValidationSplit,
                KeepBest = keepBest,
                Patience = patience ?? TrainingDefaults.Patience,
                ExecutionProvider = device,
            };
            var task = new UpdateTask(model, train, validation, options);
            var result = await RunWithDisplay(task, model.Spec.LossTerms, json, ct);
            StatusLine.Error.End();
            if (result.EpochsCompleted > 0)   // nothing trained, nothing written
            {
                model.Save(output);
                // After the model: a kill or a failure while it is written leaves no history of a model that was never written.
                SaveHistory(result.History, output);
            }
            // A completed run's model is its result: the checkpoints it wrote or resumed from are stale.
            var removed = result.State == TrainingState.Completed ? RemoveCheckpoints(checkpoint, options.ResumeFrom) : [];
            Report(result, output, model, json, File.Exists(checkpoint) ? checkpoint : null, removed, data);
            return result.State == TrainingState.Completed ? 0 : result.State == TrainingState.Cancelled ? Interrupts.StoppedExitCode : 1;
        });
        return command;
    }

    /// <summary>The history JSON beside a model: OUT.history.json (and OUT.history.csv, OUT.loss.png).</summary>
    internal const string HistorySuffix = ".history.json";

    /// <summary>Writes the history (JSON and CSV) and the loss curve of the model just written to <paramref name="output"/>.</summary>
    private static void SaveHistory(TrainingHistory history, string output)
    {
        if (history.Epochs.Count == 0) return;
        history.Save(output + HistorySuffix, output + ".history.csv");
        LossCurve.Save(history, output + ".loss.png", title: $"Training {Path.GetFileName(output)}");
    }

    /// <summary>Output and checkpoint paths are checked before features are computed, not when training ends.</summary>
    private static void CheckPaths(string? output, string? checkpoint, string? resume)
    {
        if (output is not null) OptionParsing.OutputFile("--out", output);
        if (checkpoint is not null) OptionParsing.OutputFile("--checkpoint", checkpoint, "model.ckpt");
        if (resume is not null) OptionParsing.InputFile("--resume", resume);
    }

    /// <summary>The library checks these too; here the messages name the flags.</summary>
    private static void CheckValidationOptions(LabeledFolder train, LabeledFolder? validation, double? split, bool? keepBest, int? patience)
    {
        if (split is double f)
        {
            if (!(f > 0 && f <= UpdateTask.MaxValidationSplit))
                throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                    $"--validation-split {f}: give the fraction of each label's photos to hold out, more than 0 and at most {UpdateTask.MaxValidationSplit} (e.g. 0.2)."));
            if (validation is not null)
                throw new UsageException("--validation-split holds out part of --data for validation, and --validation gives a folder: use one or the other.");
            if (UpdateTask.TooFewToHoldOut(train, f) is var (label, count))
                throw new TailorException(string.Create(CultureInfo.InvariantCulture,
                    $"--validation-split {f} holds out at least one photo of every label and keeps one to train on, but label '{label}' has {count} photo{(count == 1 ? "" : "s")} " +
                    $"in '{train.Root}'. Add photos of '{label}', or give a validation folder with --validation DIR."));
        }
        if (patience < 0)
            throw new UsageException($"--patience {patience}: give a number of epochs without improvement, or 0 to never stop early.");
        if (validation is null && split is null && (keepBest == true || patience > 0))
            throw new UsageException($"{(keepBest == true ? "--keep-best" : "--patience")} compares epochs by their validation loss, and there is no validation data: " +
                "add --validation DIR (a folder like --data) or --validation-split 0.2 (hold out a fifth of each label's photos).");
    }

    internal static LearningRateSchedule? ParseSchedule(string? text)
    {
        if (text is null) return null;
        try
        {
            return LearningRateSchedule.Parse(text);
        }
        catch (TailorException e)
        {
            throw new UsageException($"--schedule: {e.Message}", e);
        }
    }

    private static async Task<TrainingResult> RunWithDisplay(UpdateTask task, IReadOnlyList<Spec.LossSpec> lossTerms, bool json, CancellationToken ct)
    {
        // Ctrl+C or SIGTERM cancels the task, which still reports completion and keeps the last epoch's weights.
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // A second one ends the process at once (files are written atomically, so nothing is left half-written).
        using var stop = Interrupts.StopGracefully(cts, signal =>
            $"Stopping after this mini-batch and keeping the last completed epoch ({Interrupts.Name(signal)} again to quit at once)…");
        if (json)
        {
            // The history's record of the epoch, with the run's length after the epoch number.
            int total = 0;
            task.TrainingBegan += (_, e) => total = e.Epochs;
            task.EpochEnded += (_, e) =>
            {
                var line = TrainingHistory.ToJson(e);
                line.Insert(1, "epochs", total);
                Console.Out.WriteLine(line.ToJsonString());
            };
            return await task.RunAsync(cts.Token);
        }
        task.FeaturesProgress += (_, p) => StatusLine.Error.Report("Features", p.Done, p.Total, "images");
        task.TrainingBegan += (_, e) =>
        {
            StatusLine.Error.End();
            AnsiConsole.MarkupLine($"Training on {Text.Count(e.Examples, "example")} × {Text.Count(e.Variants, "variant")}, batch {e.BatchSize}, " +
                (e.FirstEpoch == e.Epochs ? $"epoch {e.Epochs}." : $"epochs {e.FirstEpoch}–{e.Epochs}."));
            // With several loss terms, the loss columns are their weighted sum: say so.
            if (lossTerms.Count > 1)
                AnsiConsole.MarkupLine(Markup.Escape($"Loss = {string.Join(" + ", lossTerms.Select(t => $"{t.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture)} × {(t.Kind == Spec.LossKind.MeanSquaredError ? "mse" : "cross-entropy")} on {t.Input}"))} (train and validation loss below)."));
            Console.Out.WriteLine(EpochHeader);
        };
        // Plain lines (not Spectre markup): a table that grows row by row, never wraps and fits 80 columns.
        task.EpochEnded += (_, e) => Console.Out.WriteLine(EpochRow(e));
        return await task.RunAsync(cts.Token);
    }

    /// <summary>The epoch table's header: training loss is the epoch's mean, "last batch" the last mini-batch's.</summary>
    internal const string EpochHeader = "epoch  train loss  last batch  train acc  val loss  val acc        lr   secs";

    internal static string EpochRow(EpochRecord e) => string.Create(CultureInfo.InvariantCulture,
        $"{e.Epoch,5}  {e.TrainLossMean,10:F4}  {e.TrainLossLastBatch,10:F4}  {e.TrainAccuracy,9:P1}  {Fmt(e.ValidationLoss, "F4"),8}  {Fmt(e.ValidationAccuracy, "P1"),7}  {e.LearningRate,8:G3}  {e.Seconds,5:F2}");

    /// <summary>", kept epoch 12 (lowest validation loss 0.4321)" when the model holds another epoch than the last.</summary>
    private static string KeptText(TrainingResult result) =>
        result.KeptEpoch == result.EpochsCompleted || result.KeptEpoch == 0 ? ""
            : result.History.Epochs.FirstOrDefault(e => e.Epoch == result.KeptEpoch)?.ValidationLoss is double loss
                ? string.Create(CultureInfo.InvariantCulture, $", kept epoch {result.KeptEpoch} (lowest validation loss {loss:F4})")
                : $", kept epoch {result.KeptEpoch}";

    private static string Fmt(double? v, string format) => v is double d ? d.ToString(format, CultureInfo.InvariantCulture) : "—";

    /// <summary>Deletes the checkpoint files that exist among <paramref name="paths"/>; returns those it deleted.</summary>
    private static List<string> RemoveCheckpoints(params string?[] paths)
    {
        var removed = new List<string>();
        foreach (var path in paths.OfType<string>().Distinct())
        {
            if (!File.Exists(path)) continue;
            File.Delete(path);
            removed.Add(path);
        }
        return removed;
    }

    private static void Report(TrainingResult result, string output, UpdatableModel model, bool json, string? checkpoint, IReadOnlyList<string> removed, DataOptions data)
    {
        var last = result.History.Epochs.LastOrDefault();
        bool saved = result.EpochsCompleted > 0;
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                state = result.State.ToString().ToLowerInvariant(), reason = result.Reason, epochs_completed = result.EpochsCompleted,
                kept_epoch = result.KeptEpoch, stopped_early = result.StoppedEarly,
                model = output, train_loss_mean = last?.TrainLossMean, validation_loss = last?.ValidationLoss, validation_accuracy = last?.ValidationAccuracy,
                feature_seconds = result.FeatureSeconds, new_labels = saved ? result.NewLabels : new Dictionary<string, int>(), labels = model.Spec.Labels.Names,
                skipped = result.Skipped.Select(s => new { path = s.Path, reason = s.Reason }),
                checkpoint, removed_checkpoints = removed,
                replayed = result.Replayed, started_over = result.StartedOver, kept_examples = result.KeptExamples, forgotten = result.Forgotten,
                labels_without_examples = result.LabelsWithoutExamples,
            }, CliApp.JsonLine));
            return;
        }
        // Slots are taken in the written model only: nothing written, nothing to announce.
        if (saved)
            foreach (var (label, slot) in result.NewLabels) AnsiConsole.MarkupLine($"New label [bold]{Text.MarkupLabel(label)}[/] took slot {slot}.");
        foreach (var (path, reason) in result.Skipped) AnsiConsole.MarkupLine($"[yellow]skipped[/] {Text.MarkupPath(path)}: {Markup.Escape(Text.Message(reason))}");
        data.Report(result.Replayed, result.KeptExamples, result.Forgotten, result.LabelsWithoutExamples, result.StartedOver);
        if (result.StoppedEarly) AnsiConsole.MarkupLine(Markup.Escape(Text.Message(result.Reason!)));
        string kept = saved ? $"{output} holds the weights of epoch {result.KeptEpoch}{(result.KeptEpoch != result.EpochsCompleted ? " (the lowest validation loss)" : "")}." : "Nothing was written.";
        string resume = checkpoint is null ? "" : $" To continue from there, run the same command with --resume {checkpoint}.";
        switch (result.State)
        {
            case TrainingState.Completed:
                AnsiConsole.MarkupLine(Markup.Escape(Text.Message($"Done: {Text.Count(result.EpochsCompleted, "epoch")}{KeptText(result)}; wrote {output}, its loss curve {output}.loss.png and history {output}.history.json.") +
                    (removed.Count > 0 ? Text.Message($" Removed the checkpoint{(removed.Count > 1 ? "s" : "")} {string.Join(" and ", removed)}: the model is the result.") : "")));
                break;
            case TrainingState.Cancelled:
                // Stopping at the user's request is not an error: say what is kept and how to go on.
                CliApp.WriteNote(saved
                    ? $"Stopped during epoch {result.EpochsCompleted + 1}, as asked. {kept}{resume}"
                    : $"Stopped before the first epoch ended, as asked. {kept}");
                break;
            default:
                CliApp.WriteError($"{result.Reason} {kept}{(saved ? resume : "")}");
                break;
        }
    }
}

/// <summary>What <c>tailor train</c> passes about its data to every head: --skip-bad, --forget, the kept
/// examples replayed (MODEL.examples when present) and where to keep them (OUT.examples).</summary>
internal sealed record DataOptions(bool SkipBad, bool Forget, string? Replay, string? Keep)
{
    /// <summary>Says what was replayed, kept, forgotten, and which labels took no slot.</summary>
    public void Report(int replayed, int kept, IReadOnlyList<string> forgotten, IReadOnlyList<string> withoutExamples, bool startedOver = false)
    {
        foreach (var label in withoutExamples)
            AnsiConsole.MarkupLine($"[yellow]Label {Text.MarkupLabel(label)}[/]: none of its photos could be read; it took no slot.");
        if (forgotten.Count > 0)
            AnsiConsole.MarkupLine($"[yellow]Forgot[/] {Markup.Escape(string.Join(", ", forgotten.Select(Text.Label)))} (--forget): they keep their slots but are no longer learned.");
        if (replayed > 0 && Replay is not null)
            AnsiConsole.MarkupLine($"Replayed {Text.Count(replayed, "kept example")} from {Text.MarkupPath(Replay)}" +
                (startedOver ? ", training from the initial weights on them and the new photos." : "."));
        if (kept > 0 && Keep is not null)
            AnsiConsole.MarkupLine($"Kept {Text.Count(kept, "example")} in {Text.MarkupPath(Keep)}; the next tailor train on this model replays them.");
    }
}
