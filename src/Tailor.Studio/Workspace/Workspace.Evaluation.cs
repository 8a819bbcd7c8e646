using System.Text.Json;
using Tailor.Data;
using Tailor.Prediction;

namespace Tailor.Studio;

/// <summary>One cell of the confusion matrix: the test examples of a true label predicted as a label.</summary>
public sealed record ConfusionCell(int Count, IReadOnlyList<long> ExampleIds);

/// <summary>Accuracy on one label's test examples.</summary>
public sealed record LabelEvaluation(long LabelId, string Label, int Count, int Correct, double Accuracy);

/// <summary>One evaluated test example.</summary>
/// <param name="PredictedProbability">The probability of the predicted label.</param>
/// <param name="TrueLabelProbability">The probability the model gave the true label.</param>
public sealed record EvaluationRow(long ExampleId, string TrueLabel, string PredictedLabel, double PredictedProbability, double TrueLabelProbability, bool Correct);

/// <summary>A test example evaluation could not read, and why.</summary>
public sealed record SkippedExample(long ExampleId, string Reason);

/// <summary>A model version evaluated on the project's test set.</summary>
/// <param name="Accuracy">Fraction of evaluated examples predicted right (0..1).</param>
/// <param name="Loss">Mean cross-entropy of the true label.</param>
/// <param name="ConfusionLabels">Rows (true) and columns (predicted) of <paramref name="Confusion"/>: the project's labels in slot order.</param>
/// <param name="Confusion">[true][predicted] cells with their example ids.</param>
/// <param name="Rows">Wrong ones first, then by the true label's probability, ascending.</param>
public sealed record EvaluationView(long VersionId, double Accuracy, double Loss, int Count, IReadOnlyList<LabelEvaluation> PerLabel,
    IReadOnlyList<string> ConfusionLabels, IReadOnlyList<IReadOnlyList<ConfusionCell>> Confusion, IReadOnlyList<EvaluationRow> Rows,
    IReadOnlyList<SkippedExample> Skipped);

public sealed partial class Workspace
{
    /// <summary>Evaluates a model version (default: the current one) on the project's test set with the library's
    /// <see cref="Predictor"/> and <see cref="Evaluator"/>; the result is stored as the version's evaluation. Corrupt
    /// images are left out; an image that fails to load now is listed in <see cref="EvaluationView.Skipped"/>. The version
    /// predicts only among the labels it was made with (renamed ones under their new names; see <see cref="Compare"/>).</summary>
    /// <exception cref="TailorException">No such project or version; the project has no readable test example.</exception>
    public EvaluationView Evaluate(long projectId, long? versionId = null, CancellationToken cancellationToken = default)
    {
        return EvaluateCore(projectId, versionId, cancellationToken);
    }

    /// <summary>A k-NN or logistic-regression run's version, evaluated as Evaluate does and stored with it, so the run
    /// history and the Models screen show its accuracy (a network run's epochs carry theirs).</summary>
    double? Runs.IRunStore.EvaluateVersion(long projectId, long versionId) => EvaluateCore(projectId, versionId, CancellationToken.None).Accuracy;

    private EvaluationView EvaluateCore(long projectId, long? versionId, CancellationToken cancellationToken)
    {
        var (model, version, labels, rows, projectName, key) = Read(() =>
        {
            string project = ProjectName(projectId, null);
            long version = versionId ?? Scalar<long?>("SELECT current_version FROM projects WHERE id = $p;", null, ("$p", projectId))
                ?? throw new TailorException($"Project '{Shown.Label(project)}' has no current model version.");
            var model = LoadForTestLocked(projectId, version);
            var rows = Query(
                "SELECT e.id, e.sha256, l.name FROM examples e JOIN labels l ON l.id = e.label WHERE e.project = $p AND e.example_set = 'test' AND e.corrupt = 0 ORDER BY e.id;",
                r => (Id: r.GetInt64(0), Path: FullPath(ImageStore.ImagePath(r.GetString(1))), Label: r.GetString(2)), null, ("$p", projectId));
            return (model, version, LabelsLocked(projectId, null), rows, project, TestSetKeyLocked(projectId));
        });
        if (rows.Count == 0)
            throw new TailorException($"Project '{Shown.Label(projectName)}' has no test examples to evaluate on (corrupt images do not count); add photos to its labels' test sets.");

        var idOf = rows.ToDictionary(r => r.Path, r => r.Id);
        // A label the version was made without (added since): its examples are predicted all the same (the Evaluator is
        // given a label the version knows in its place) and count as wrong, the true label having probability 0.
        var knows = model.Spec.Labels.InUse.ToHashSet();
        string? standIn = model.Spec.Labels.InUse.FirstOrDefault();
        var trueOf = rows.ToDictionary(r => r.Path, r => r.Label);
        if (standIn is null)
            throw new TailorException($"Model version {version} of project '{Shown.Label(projectName)}' knows none of its labels today (they were deleted since it was made); it cannot be evaluated on the test set.");
        var data = LabeledFolder.FromExamples(rows.Select(r => new LabeledExample(r.Path, knows.Contains(r.Label) ? r.Label : standIn)), $"{projectName} (test set)");
        EvaluationReport report;
        using (var predictor = new Predictor(model))
            report = Evaluator.Evaluate(predictor, data, Runs.Run.EvaluationOptions, cancellationToken);
        if (rows.Any(r => !knows.Contains(r.Label)))
        {
            var examples = report.Examples.Select(r => knows.Contains(trueOf[r.Path]) ? r : r with { Label = trueOf[r.Path], TrueProbability = 0 }).ToList();
            report = report with
            {
                Examples = examples,
                Accuracy = (double)examples.Count(r => r.Label == r.Predicted) / examples.Count,
                Loss = examples.Average(r => -Math.Log(r.TrueProbability + Evaluator.LogEpsilon)),
            };
        }

        var names = labels.Select(l => l.Name).ToList();
        foreach (var r in report.Examples)
            if (!names.Contains(r.Predicted)) names.Add(r.Predicted);
        var index = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);
        var cells = names.Select(_ => names.Select(_ => new List<long>()).ToArray()).ToArray();
        var evaluated = report.Examples.Select(r => new EvaluationRow(idOf[r.Path], r.Label, r.Predicted, r.Probability, r.TrueProbability, r.Label == r.Predicted)).ToList();
        foreach (var row in evaluated) cells[index[row.TrueLabel]][index[row.PredictedLabel]].Add(row.ExampleId);
        var ordered = evaluated.OrderBy(r => r.Correct).ThenBy(r => r.TrueLabelProbability).ThenBy(r => r.ExampleId).ToList();
        var perLabel = labels.Select(l =>
        {
            var mine = evaluated.Where(r => r.TrueLabel == l.Name).ToList();
            int correct = mine.Count(r => r.Correct);
            return new LabelEvaluation(l.Id, l.Name, mine.Count, correct, mine.Count == 0 ? 0 : (double)correct / mine.Count);
        }).ToList();
        var view = new EvaluationView(version, report.Accuracy, report.Loss, report.Count, perLabel, names,
            cells.Select(row => (IReadOnlyList<ConfusionCell>)row.Select(c => new ConfusionCell(c.Count, c)).ToList()).ToList(),
            ordered, report.Skipped.Select(s => new SkippedExample(idOf.GetValueOrDefault(s.Path), s.Reason)).ToList());
        Write(transaction => Execute("UPDATE model_versions SET evaluation = $e, evaluation_key = $k WHERE id = $v;", transaction,
            ("$e", JsonSerializer.Serialize(view, s_json)), ("$k", key), ("$v", version)));
        return view;
    }

    /// <summary>The evaluation last stored for a model version of the project (by <see cref="Evaluate"/>), or null.</summary>
    /// <exception cref="TailorException">No such project or version.</exception>
    public EvaluationView? StoredEvaluation(long projectId, long versionId) => Read(() =>
    {
        VersionFileLocked(projectId, versionId, null);
        string? json = Scalar<string?>("SELECT evaluation FROM model_versions WHERE id = $v;", null, ("$v", versionId));
        return json is null ? null : JsonSerializer.Deserialize<EvaluationView>(json, s_json);
    });
}
