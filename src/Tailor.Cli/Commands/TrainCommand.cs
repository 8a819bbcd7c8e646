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
        var outOption = new Option<string?>("--out", "-o") { Description = "Where to write the trained model (default: MODEL, replaced atomically)." };
        var headOption = new Option<string>("--head") { Description = "nn (default): train the model's layers by SGD/Adam; logreg: L-BFGS logistic regression; knn: k-nearest neighbours.", DefaultValueFactory = _ => "nn" };
        var epochsOption = new Option<int?>("--epochs") { Description = "Epochs (default: the model's)." };
        var lrOption = new Option<double?>("--lr") { Description = "Learning rate (default: the model's)." };
        var batchOption = new Option<int?>("--batch") { Description = "Mini-batch size (default: the model's)." };
        var momentumOption = new Option<double?>("--momentum") { Description = "SGD momentum (default: the model's)." };
        var decayOption = new Option<double?>("--weight-decay") { Description = "L2 weight decay (default: the model's)." };
        var seedOption = new Option<int?>("--seed") { Description = "Seed for shuffling, augmentation and dropout (default: the model's)." };
        var shuffleOption = new Option<string?>("--shuffle") { Description = "true or false (default: the model's)." };
        var scheduleOption = new Option<string?>("--schedule") { Description = $"Learning-rate schedule: {LearningRateSchedule.AllowedForms}. Default: the model's (cosine for a prepared model)." };
        var augmentOption = new Option<string?>("--augment") { Description = "Augmentations, e.g. flip,rotate:15,crop:0.8,brightness:0.2,variants:8, or none. " +
            $"Default: --head nn, the model's (tailor info shows it; {AugmentationOptions.FewShot} for a prepared model); knn and logreg, none." };
        var checkpointEveryOption = new Option<int>("--checkpoint-every") { Description = "Write a checkpoint every N epochs (and on cancel)." };
        var checkpointOption = new Option<string?>("--checkpoint") { Description = "Checkpoint file (default: OUT.ckpt when checkpoints are on)." };
        var resumeOption = new Option<string?>("--resume") { Description = "Continue from a checkpoint." };
        var skipBadOption = new Option<bool>("--skip-bad") { Description = "Skip unreadable examples (they are listed) instead of failing." };
        var jsonOption = new Option<bool>("--json") { Description = "One JSON object per epoch, then a final one." };
        var kOption = new Option<int?>("--k") { Description = "k-NN: neighbours (default 5, 1..100)." };
        var weightingOption = new Option<string?>("--weighting") { Description = "k-NN: uniform (default) or distance." };
        var metricOption = new Option<string?>("--metric") { Description = "k-NN: euclidean (default) or cosine." };
        var l2Option = new Option<string?>("--l2")
        {
            Description = "Logistic regression: L2 strength (default 0.0003); 'auto' to choose it by 5-fold cross-validation among " +
                "0.0001…0.1, or a comma-separated list of candidates.",
        };
        var command = new Command("train", "Personalize a model on a labelled folder: new labels take free slots; shows a per-epoch table and writes a loss curve.")
        {
            modelArg, dataOption, validationOption, outOption, headOption, epochsOption, lrOption, batchOption, momentumOption, decayOption, seedOption,
            shuffleOption, scheduleOption, augmentOption, checkpointEveryOption, checkpointOption, resumeOption, skipBadOption, jsonOption,
            kOption, weightingOption, metricOption, l2Option,
        };
        command.SetAction(async (parse, ct) =>
        {
            string modelPath = parse.GetValue(modelArg)!;
            string output = parse.GetValue(outOption) ?? modelPath;
            bool json = parse.GetValue(jsonOption);
            string head = parse.GetValue(headOption)!.ToLowerInvariant();
            var model = UpdatableModel.Load(modelPath);
            var train = LabeledFolder.Scan(parse.GetValue(dataOption)!);
            var validation = parse.GetValue(validationOption) is { } v ? LabeledFolder.Scan(v) : null;
            // Null: the model's own augmentation (--head nn) or the head's default (knn, logreg).
            var augmentation = parse.GetValue(augmentOption) is { } augmentText ? AugmentationOptions.Parse(augmentText) : null;
            if (head is "knn" or "logreg")
                return await HeadTraining.RunAsync(head, model, train, validation, output, augmentation, parse.GetValue(seedOption),
                    parse.GetValue(kOption), parse.GetValue(weightingOption), parse.GetValue(metricOption), parse.GetValue(l2Option), json, ct);
            if (head != "nn") throw new TailorException($"--head: '{head}' is not one of nn, logreg, knn.");

            int every = parse.GetValue(checkpointEveryOption);
            string? checkpoint = parse.GetValue(checkpointOption) ?? (every > 0 ? output + ".ckpt" : null);
            var options = new TrainingOptions
            {
                Epochs = parse.GetValue(epochsOption),
                LearningRate = parse.GetValue(lrOption),
                BatchSize = parse.GetValue(batchOption),
                Momentum = parse.GetValue(momentumOption),
                WeightDecay = parse.GetValue(decayOption),
                Seed = parse.GetValue(seedOption),
                Shuffle = parse.GetValue(shuffleOption) is { } s ? OptionParsing.Bool("--shuffle", s) : null,
                Schedule = ParseSchedule(parse.GetValue(scheduleOption), parse.GetValue(epochsOption) ?? (int)model.Spec.DefaultOr("epochs", 10)),
                Augmentation = augmentation,
                CheckpointEvery = every,
                CheckpointPath = checkpoint,
                ResumeFrom = parse.GetValue(resumeOption),
                HistoryPath = output + ".history.json",
                SkipBadExamples = parse.GetValue(skipBadOption),
            };
            var task = new UpdateTask(model, train, validation, options);
            var result = await RunWithDisplay(task, model.Spec.LossTerms, json, ct);
            if (result.History.Epochs.Count > 0)
                LossCurve.Save(result.History, output + ".loss.png", title: $"Training {Path.GetFileName(output)}");
            if (result.EpochsCompleted > 0) model.Save(output);   // nothing trained, nothing written
            Report(result, output, model, json);
            return result.State == TrainingState.Completed ? 0 : result.State == TrainingState.Cancelled ? 130 : 1;
        });
        return command;
    }

    internal static LearningRateSchedule? ParseSchedule(string? text, int epochs)
    {
        if (text is null) return null;
        try
        {
            return LearningRateSchedule.Parse(text, epochs);
        }
        catch (TailorException e)
        {
            throw new TailorException($"--schedule: {e.Message}", e);
        }
    }

    private static async Task<TrainingResult> RunWithDisplay(UpdateTask task, IReadOnlyList<Spec.LossSpec> lossTerms, bool json, CancellationToken ct)
    {
        // Ctrl+C cancels the task, which still reports completion and keeps the last epoch's weights.
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            if (json)
            {
                task.EpochEnded += (_, e) => Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    epoch = e.Epoch, epochs = e.Epochs, train_loss_mean = e.TrainLossMean, train_loss_last_batch = e.TrainLossLastBatch,
                    train_accuracy = e.TrainAccuracy, validation_loss = e.ValidationLoss, validation_accuracy = e.ValidationAccuracy,
                    learning_rate = e.LearningRate, seconds = e.Seconds,
                }));
                return await task.RunAsync(cts.Token);
            }
            var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            task.FeaturesProgress += (_, p) =>
            {
                if (p.Done == p.Total || p.Done % 32 == 0 || !Console.IsErrorRedirected)
                    err.Markup($"\rFeatures: {p.Done}/{p.Total} images{(p.Done == p.Total ? "\n" : "")}");
            };
            task.TrainingBegan += (_, e) =>
            {
                AnsiConsole.MarkupLine($"Training on {e.Examples} examples × {e.Variants} variant{(e.Variants > 1 ? "s" : "")}, batch {e.BatchSize}, epochs {e.FirstEpoch}–{e.Epochs}.");
                // With several loss terms, the loss columns are their weighted sum: say so.
                if (lossTerms.Count > 1)
                    AnsiConsole.MarkupLine(Markup.Escape($"Loss = {string.Join(" + ", lossTerms.Select(t => $"{t.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture)} × {(t.Kind == Spec.LossKind.MeanSquaredError ? "mse" : "cross-entropy")} on {t.Input}"))} (train and validation loss below)."));
                Console.Out.WriteLine(" epoch │ train loss (mean) │ last batch │ train acc │ val loss │ val acc │       lr │  secs");
            };
            // Plain lines (not Spectre markup): a table that grows row by row and never wraps.
            task.EpochEnded += (_, e) => Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{e.Epoch,6} │ {e.TrainLossMean,17:F4} │ {e.TrainLossLastBatch,10:F4} │ {e.TrainAccuracy,9:P1} │ {Fmt(e.ValidationLoss, "F4"),8} │ {Fmt(e.ValidationAccuracy, "P1"),7} │ {e.LearningRate,8:G3} │ {e.Seconds,5:F2}"));
            return await task.RunAsync(cts.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static string Fmt(double? v, string format) => v is double d ? d.ToString(format, CultureInfo.InvariantCulture) : "—";

    private static void Report(TrainingResult result, string output, UpdatableModel model, bool json)
    {
        var last = result.History.Epochs.LastOrDefault();
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                state = result.State.ToString().ToLowerInvariant(), reason = result.Reason, epochs_completed = result.EpochsCompleted,
                model = output, train_loss_mean = last?.TrainLossMean, validation_loss = last?.ValidationLoss, validation_accuracy = last?.ValidationAccuracy,
                feature_seconds = result.FeatureSeconds, new_labels = result.NewLabels, labels = model.Spec.Labels.Names,
                skipped = result.Skipped.Select(s => new { path = s.Path, reason = s.Reason }),
            }, CliApp.JsonLine));
            return;
        }
        foreach (var (label, slot) in result.NewLabels) AnsiConsole.MarkupLine($"New label [bold]{Markup.Escape(label)}[/] took slot {slot}.");
        foreach (var (path, reason) in result.Skipped) AnsiConsole.MarkupLine($"[yellow]skipped[/] {Markup.Escape(path)}: {Markup.Escape(reason)}");
        if (result.State == TrainingState.Completed)
            AnsiConsole.MarkupLine($"[green]Done[/]: {result.EpochsCompleted} epochs; wrote {Markup.Escape(output)}, its loss curve {Markup.Escape(output)}.loss.png and history {Markup.Escape(output)}.history.json.");
        else
            CliApp.WriteError($"{result.State}: {result.Reason}" + (result.EpochsCompleted > 0 ? $" Wrote {output} with the weights of epoch {result.EpochsCompleted}." : ""));
    }
}
