using System.Text.Json;
using Spectre.Console;
using Tailor.Data;
using Tailor.Heads;
using Tailor.Images;

namespace Tailor.Cli.Commands;

/// <summary><c>tailor train --head knn|logreg</c>: heads fitted on the backbone's cached features.</summary>
internal static class HeadTraining
{
    /// <summary>The values of --weighting.</summary>
    internal static readonly (string Name, KnnWeighting Value)[] WeightingNames = [("uniform", KnnWeighting.Uniform), ("distance", KnnWeighting.InverseDistance)];

    /// <summary>The values of --metric.</summary>
    internal static readonly (string Name, KnnMetric Value)[] MetricNames = [("euclidean", KnnMetric.Euclidean), ("cosine", KnnMetric.Cosine)];

    /// <summary>The CLI's name of a value (for help texts).</summary>
    internal static string NameOf<T>((string Name, T Value)[] names, T value) => names.First(n => EqualityComparer<T>.Default.Equals(n.Value, value)).Name;

    public static Task<int> RunAsync(string head, UpdatableModel model, LabeledFolder train, LabeledFolder? validation, string output,
        AugmentationOptions? augmentation, int? seed, int? k, string? weighting, string? metric, string? l2, bool json, CancellationToken ct,
        DataOptions data, string device)
    {
        HeadTrainingOptions defaults = head == "knn"
            ? new KnnTrainingOptions
            {
                K = k,
                Weighting = weighting is null ? null : OptionParsing.Enum("--weighting", weighting, WeightingNames),
                Metric = metric is null ? null : OptionParsing.Enum("--metric", metric, MetricNames),
            }
            : new LogisticRegressionTrainingOptions();
        var options = defaults with
        {
            Augmentation = augmentation ?? defaults.Augmentation,
            Seed = seed ?? (int)model.Spec.DefaultOr("seed", TrainingDefaults.Seed),
            SkipBadExamples = data.SkipBad,
            Forget = data.Forget,
            ReplayExamplesPath = data.Replay,
            KeepExamplesPath = data.Keep,
            ExecutionProvider = device,
        };
        if (k is int kk && (kk < KNearestNeighbors.MinK || kk > KNearestNeighbors.MaxK))
            throw new UsageException($"--k {kk} is outside the allowed range {KNearestNeighbors.MinK}..{KNearestNeighbors.MaxK}.");
        if (l2 is not null)
        {
            bool auto = l2.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase);
            var values = auto ? LogisticRegression.DefaultL2Candidates : OptionParsing.Doubles("--l2", l2);
            foreach (double candidate in values)
                if (!(candidate >= 0) || double.IsInfinity(candidate))
                    throw new UsageException($"--l2 {candidate}: an L2 strength must be a finite number ≥ 0.");
            if (options is LogisticRegressionTrainingOptions logreg)
                options = values.Count == 1 && !auto ? logreg with { L2 = values[0] } : logreg with { L2Candidates = values };
        }
        int images = train.Examples.Count * Features.FeatureCache.VariantsFor(options.Augmentation);
        var result = json
            ? Train(options)
            : Progress.Run("Features", images, progress => Train(options with { Progress = new FeatureProgressAdapter(progress) }));
        HeadTrainingResult Train(HeadTrainingOptions o) =>
            o is KnnTrainingOptions knn ? HeadTrainer.TrainKnn(model, train, knn, ct) : HeadTrainer.TrainLogisticRegression(model, train, (LogisticRegressionTrainingOptions)o, ct);
        model.Save(output);
        (double Loss, double Accuracy)? val = null;
        if (validation is not null)
        {
            using var predictor = new Prediction.Predictor(model, new Prediction.PredictorOptions { ExecutionProvider = device });
            var report = Prediction.Evaluator.Evaluate(predictor, validation, cancellationToken: ct);
            val = (report.Loss, report.Accuracy);
        }
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                state = "completed", head, model = output, examples = result.Examples, variants = result.Variants,
                feature_seconds = result.FeatureSeconds, train_seconds = result.TrainSeconds,
                stored_examples = head == "knn" ? result.StoredExamples : (int?)null,
                converged = result.Lbfgs?.Converged, iterations = result.Lbfgs?.Iterations, lbfgs_message = result.Lbfgs?.Message,
                l2 = result.L2, l2_folds = result.L2Selection?.Folds,
                l2_cross_validation = result.L2Selection?.Scores.Select(c => new { l2 = c.L2, cross_entropy = c.CrossEntropy, accuracy = c.Accuracy }),
                validation_loss = val?.Loss, validation_accuracy = val?.Accuracy, new_labels = result.NewLabels, labels = model.Spec.Labels.Names,
                skipped = result.Skipped.Select(s => new { path = s.Path, reason = s.Reason }),
                replayed = result.Replayed, kept_examples = result.KeptExamples, forgotten = result.Forgotten,
                labels_without_examples = result.LabelsWithoutExamples,
            }, CliApp.JsonLine));
            return Task.FromResult(0);
        }
        foreach (var (label, slot) in result.NewLabels) AnsiConsole.MarkupLine($"New label [bold]{Text.MarkupLabel(label)}[/] (slot {slot}).");
        foreach (var (path, reason) in result.Skipped) AnsiConsole.MarkupLine($"[yellow]skipped[/] {Text.MarkupPath(path)}: {Markup.Escape(Text.Message(reason))}");
        data.Report(result.Replayed, result.KeptExamples, result.Forgotten, result.LabelsWithoutExamples);
        string detail = head == "knn"
            ? Text.Count(result.StoredExamples, "stored example")
            : $"L-BFGS {(result.Lbfgs!.Converged ? "converged" : "[yellow]did not converge[/] (best iterate kept)")} in {Text.Count(result.Lbfgs.Iterations, "iteration")}, loss {result.Lbfgs.Loss:F4}";
        AnsiConsole.MarkupLine($"[green]Done[/] ({head}): {Text.Count(result.Examples, "example")} × {Text.Count(result.Variants, "variant")}; features {result.FeatureSeconds:F2} s, " +
            $"training {result.TrainSeconds * 1000:F1} ms; {detail}.");
        if (result.L2Selection is { } cv)
        {
            var table = new Table().AddColumns("λ", $"held-out cross-entropy ({cv.Folds}-fold)", "held-out accuracy");
            foreach (var c in cv.Scores)
                table.AddRow((c.L2 == cv.Chosen ? "[bold]" : "") + c.L2.ToString("G", System.Globalization.CultureInfo.InvariantCulture) + (c.L2 == cv.Chosen ? " ←[/]" : ""),
                    c.CrossEntropy.ToString("F4", System.Globalization.CultureInfo.InvariantCulture), c.Accuracy.ToString("P1", System.Globalization.CultureInfo.InvariantCulture));
            Tables.Write(table);
            AnsiConsole.MarkupLine($"L2 strength chosen by cross-validation: {cv.Chosen.ToString("G", System.Globalization.CultureInfo.InvariantCulture)}.");
        }
        if (val is { } v) AnsiConsole.MarkupLine($"Validation: accuracy {v.Accuracy:P1}, loss {v.Loss:F4}.");
        AnsiConsole.MarkupLine($"Wrote {Text.MarkupPath(output)}.");
        return Task.FromResult(0);
    }

    private sealed class FeatureProgressAdapter(IProgress<int> inner) : IProgress<Features.FeatureProgress>
    {
        public void Report(Features.FeatureProgress value) => inner.Report(value.Done);
    }
}
