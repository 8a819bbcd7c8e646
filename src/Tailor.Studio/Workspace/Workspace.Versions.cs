using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tailor.Building;
using Tailor.Studio.Runs;

namespace Tailor.Studio;

/// <summary>A model version with what made it: its run's settings and how it did on the test set.</summary>
/// <param name="Kind">base, trained or reset.</param>
/// <param name="Settings">The request of the run that made it (head, layers, epochs asked, learning rate, batch size, k,
/// L2, seed; null settings took the model's defaults); null for base and reset versions.</param>
/// <param name="EpochsTrained">The epochs its run finished (a stopped run keeps its last finished one); null without a run
/// or for k-NN and logistic regression, which have no epochs.</param>
/// <param name="Accuracy">Test-set accuracy of its evaluation, or (a network run) the last kept epoch's validation accuracy,
/// which is measured on the test set; null when neither exists.</param>
/// <param name="AccuracyIsCurrent">The accuracy was measured on today's test set and labels.</param>
/// <param name="UnknownLabels">Today's labels the version was made without (added since, or whose slot was another label's
/// then): it cannot predict them.</param>
public sealed record VersionDetails(long Id, string Kind, long? RunId, DateTimeOffset Created, bool IsCurrent, RunRequest? Settings,
    int? EpochsTrained, double? Accuracy, bool AccuracyIsCurrent, IReadOnlyList<string> UnknownLabels);

/// <summary>One run of a project, as the history table shows it.</summary>
/// <param name="Settings">What the run was asked to do.</param>
/// <param name="EpochsDone">Epochs it finished (0 for k-NN and logistic regression, which have none).</param>
/// <param name="Seconds">From start to end; null while it goes on.</param>
/// <param name="State">running, completed, cancelled or failed.</param>
/// <param name="TestAccuracy">As <see cref="VersionDetails.Accuracy"/> for the version it made; null when it made none.</param>
public sealed record RunHistoryRow(long RunId, RunRequest Settings, int EpochsDone, DateTimeOffset Started, DateTimeOffset? Ended, double? Seconds,
    string State, string? Reason, double? TestAccuracy, long? ModelVersionId);

/// <summary>What one version predicted for a test example.</summary>
public sealed record ComparedPrediction(string Label, double Probability, bool Correct);

/// <summary>One test example compared: each version's prediction (null when that version's evaluation skipped the image).</summary>
/// <param name="Disagree">The two versions predicted different labels.</param>
public sealed record ComparisonRow(long ExampleId, string TrueLabel, ComparedPrediction? A, ComparedPrediction? B, bool Disagree);

/// <summary>Two model versions side by side on the project's test set.</summary>
/// <param name="Count">Test examples both versions were evaluated on (the counts and accuracies are over these).</param>
/// <param name="OnlyARight">Examples version A predicted right and version B wrong.</param>
/// <param name="UnknownToA">Today's labels version A was made without: it cannot predict them, so their test examples count
/// as wrong for it.</param>
/// <param name="Rows">Disagreements first, then those both got wrong, then the rest, each by example id.</param>
public sealed record ComparisonView(long VersionA, long VersionB, int Count, double AccuracyA, double AccuracyB, int BothRight, int OnlyARight,
    int OnlyBRight, int BothWrong, int Disagreements, IReadOnlyList<string> UnknownToA, IReadOnlyList<string> UnknownToB,
    IReadOnlyList<ComparisonRow> Rows, IReadOnlyList<SkippedExample> Skipped);

public sealed partial class Workspace
{
    /// <summary>Compares two model versions of a project on its test set: each version is evaluated as
    /// <see cref="Evaluate"/> does (an evaluation stored for the same test set and labels is reused, not recomputed), and
    /// their predictions are put side by side per example. A version predicts only among the labels it was made with: a
    /// label renamed since keeps its slot and what was learned for it, so it is shown under its new name; a label deleted
    /// since has no test examples any more and its slot cannot be predicted; a label added since (or one that took a deleted
    /// label's slot) is unknown to the older version, listed in <see cref="ComparisonView.UnknownToA"/>/<c>B</c>, and its
    /// test examples count as wrong for it.</summary>
    /// <exception cref="TailorException">No such project; a version not the project's; the same version twice; no test
    /// example.</exception>
    public ComparisonView Compare(long projectId, long versionA, long versionB, CancellationToken cancellationToken = default)
    {
        Read(() =>
        {
            VersionFileLocked(projectId, versionA, null);
            VersionFileLocked(projectId, versionB, null);
            return 0;
        });
        if (versionA == versionB)
            throw new TailorException($"Compare needs two different versions; both are version {versionA}.");
        var a = EvaluationFor(projectId, versionA, cancellationToken);
        var b = EvaluationFor(projectId, versionB, cancellationToken);
        var (unknownA, unknownB) = Read(() => (UnknownLabelsLocked(projectId, versionA), UnknownLabelsLocked(projectId, versionB)));

        var byA = a.Rows.ToDictionary(r => r.ExampleId);
        var byB = b.Rows.ToDictionary(r => r.ExampleId);
        static ComparedPrediction? Of(EvaluationRow? r) => r is null ? null : new ComparedPrediction(r.PredictedLabel, r.PredictedProbability, r.Correct);
        var rows = byA.Keys.Union(byB.Keys).Select(id =>
        {
            var ra = byA.GetValueOrDefault(id);
            var rb = byB.GetValueOrDefault(id);
            return new ComparisonRow(id, (ra ?? rb)!.TrueLabel, Of(ra), Of(rb), ra is not null && rb is not null && ra.PredictedLabel != rb.PredictedLabel);
        }).ToList();
        var both = rows.Where(r => r.A is not null && r.B is not null).ToList();
        int bothRight = both.Count(r => r.A!.Correct && r.B!.Correct);
        int onlyA = both.Count(r => r.A!.Correct && !r.B!.Correct);
        int onlyB = both.Count(r => !r.A!.Correct && r.B!.Correct);
        int bothWrong = both.Count(r => !r.A!.Correct && !r.B!.Correct);
        var ordered = rows.OrderBy(r => r.Disagree ? 0 : r.A is { Correct: false } && r.B is { Correct: false } ? 1 : 2).ThenBy(r => r.ExampleId).ToList();
        var skipped = a.Skipped.Concat(b.Skipped).DistinctBy(s => s.ExampleId).ToList();
        double Accuracy(Func<ComparisonRow, bool> right) => both.Count == 0 ? 0 : (double)both.Count(right) / both.Count;
        return new ComparisonView(versionA, versionB, both.Count, Accuracy(r => r.A!.Correct), Accuracy(r => r.B!.Correct), bothRight, onlyA, onlyB, bothWrong,
            both.Count(r => r.Disagree), unknownA, unknownB, ordered, skipped);
    }

    /// <summary>A version's evaluation on the project's test set: the stored one when it was computed on today's test set and
    /// labels, else a new <see cref="Evaluate"/> (which stores it).</summary>
    /// <exception cref="TailorException">No such project or version; no test example.</exception>
    public EvaluationView EvaluationFor(long projectId, long versionId, CancellationToken cancellationToken = default)
    {
        var stored = Read(() =>
        {
            VersionFileLocked(projectId, versionId, null);
            var row = Query("SELECT evaluation, evaluation_key FROM model_versions WHERE id = $v;",
                r => (Json: NullableString(r, 0), Key: NullableString(r, 1)), null, ("$v", versionId))[0];
            return row.Json is not null && row.Key == TestSetKeyLocked(projectId) ? JsonSerializer.Deserialize<EvaluationView>(row.Json, s_json) : null;
        });
        return stored ?? Evaluate(projectId, versionId, cancellationToken);
    }

    /// <summary>A project's model versions, newest first, each with its run's settings and its accuracy.</summary>
    /// <exception cref="TailorException">No such project.</exception>
    public IReadOnlyList<VersionDetails> ListVersionDetails(long projectId) => Read(() =>
    {
        RequireProject(projectId, null);
        long? current = Scalar<long?>("SELECT current_version FROM projects WHERE id = $p;", null, ("$p", projectId));
        string key = TestSetKeyLocked(projectId);
        var runs = RunsByIdLocked(projectId);
        return Query("SELECT id, run, kind, created, evaluation, evaluation_key FROM model_versions WHERE project = $p ORDER BY id DESC;",
                r => (Id: r.GetInt64(0), Run: NullableLong(r, 1), Kind: r.GetString(2), Created: Time(r.GetString(3)), Evaluation: NullableString(r, 4), Key: NullableString(r, 5)),
                null, ("$p", projectId))
            .Select(v =>
            {
                var run = v.Run is { } id ? runs.GetValueOrDefault(id) : null;
                var (accuracy, isCurrent) = AccuracyOf(v.Evaluation, v.Key, key, run);
                return new VersionDetails(v.Id, v.Kind, v.Run, v.Created, v.Id == current, run?.Request,
                    run is null || run.Request.Head != RunHead.NeuralNetwork ? null : run.Epochs.Count, accuracy, isCurrent, UnknownLabelsLocked(projectId, v.Id));
            }).ToList();
    });

    /// <summary>Every run of a project across its life (resets and versions made current do not hide any), newest first.</summary>
    /// <exception cref="TailorException">No such project.</exception>
    public IReadOnlyList<RunHistoryRow> RunHistory(long projectId) => Read(() =>
    {
        RequireProject(projectId, null);
        string key = TestSetKeyLocked(projectId);
        var evaluations = Query("SELECT id, evaluation, evaluation_key FROM model_versions WHERE project = $p;",
            r => (Id: r.GetInt64(0), Evaluation: NullableString(r, 1), Key: NullableString(r, 2)), null, ("$p", projectId)).ToDictionary(v => v.Id);
        return RunsByIdLocked(projectId).Values.OrderByDescending(r => r.Id).Select(r =>
        {
            double? accuracy = null;
            if (r.ModelVersionId is { } version && evaluations.TryGetValue(version, out var v)) accuracy = AccuracyOf(v.Evaluation, v.Key, key, r).Accuracy;
            return new RunHistoryRow(r.Id, r.Request, r.Epochs.Count, r.Started, r.Ended, r.Ended is { } end ? (end - r.Started).TotalSeconds : null,
                r.State, r.Reason, accuracy, r.ModelVersionId);
        }).ToList();
    });

    private Dictionary<long, RunInfo> RunsByIdLocked(long projectId) => ListRuns(projectId).ToDictionary(r => r.Id);

    /// <summary>The evaluation's accuracy (current when computed on today's test set and labels), else the run's last kept
    /// epoch's validation accuracy (a network run validates on the test set), else a stale evaluation's.</summary>
    private static (double? Accuracy, bool Current) AccuracyOf(string? evaluation, string? evaluationKey, string key, RunInfo? run)
    {
        double? evaluated = evaluation is null ? null : JsonSerializer.Deserialize<EvaluationView>(evaluation, s_json)?.Accuracy;
        if (evaluated is not null && evaluationKey == key) return (evaluated, true);
        if (run?.Epochs.LastOrDefault()?.ValidationAccuracy is { } validation) return (validation, false);
        return (evaluated, false);
    }

    /// <summary>Records which label holds each slot as <paramref name="versionId"/> is made: JSON <c>[[slot, label id, name], …]</c>.</summary>
    private void RecordSlotLabelsLocked(long projectId, long versionId, SqliteTransaction transaction) =>
        Execute("UPDATE model_versions SET slot_labels = (SELECT json_group_array(json_array(slot, id, name)) FROM labels WHERE project = $p) WHERE id = $v;",
            transaction, ("$p", projectId), ("$v", versionId));

    /// <summary>The labels a version was made with (slot, label id, name then); null when it was made before any label (the
    /// base) or before slots were recorded: it is taken to know all of today's labels.</summary>
    private List<(int Slot, long Id, string Name)>? SlotLabelsLocked(long versionId)
    {
        string? json = Scalar<string?>("SELECT slot_labels FROM model_versions WHERE id = $v;", null, ("$v", versionId));
        if (json is null) return null;
        var slots = JsonSerializer.Deserialize<JsonElement[][]>(json) ?? [];
        return slots.Length == 0 ? null : slots.Select(s => (s[0].GetInt32(), s[1].GetInt64(), s[2].GetString() ?? "")).ToList();
    }

    /// <summary>The project's labels a version can predict: those in the slot they held when it was made.</summary>
    private List<LabelInfo> KnownLabelsLocked(long projectId, long versionId)
    {
        var labels = LabelsLocked(projectId, null);
        if (SlotLabelsLocked(versionId) is not { } slots) return labels;
        var held = slots.Select(s => (s.Slot, s.Id)).ToHashSet();
        return labels.Where(l => held.Contains((l.Slot, l.Id))).ToList();
    }

    private List<string> UnknownLabelsLocked(long projectId, long versionId)
    {
        var known = KnownLabelsLocked(projectId, versionId).Select(l => l.Id).ToHashSet();
        return LabelsLocked(projectId, null).Where(l => !known.Contains(l.Id)).Select(l => l.Name).ToList();
    }

    /// <summary>A version to evaluate: its file with the labels it knows in their slots, the other slots free (masked: it
    /// cannot predict a label it never learned). A slot whose label was deleted since is named "&lt;old name&gt; (deleted)",
    /// so that what a k-NN (which still holds that label's examples) predicts there reads as what it is.</summary>
    private UpdatableModel LoadForTestLocked(long projectId, long versionId)
    {
        var model = UpdatableModel.Load(FullPath(VersionFileLocked(projectId, versionId, null)));
        int capacity = model.Spec.Labels.Capacity;
        var known = KnownLabelsLocked(projectId, versionId).Where(l => l.Slot < capacity).ToList();
        var names = SlotNames(capacity, known.Select(l => (l.Name, l.Slot)));
        var gone = (SlotLabelsLocked(versionId) ?? []).Where(s => s.Slot < capacity && known.All(l => l.Slot != s.Slot)).ToList();
        if (gone.Count > 0)
        {
            var renamed = names.Names.ToArray();
            var used = LabelsLocked(projectId, null).Select(l => l.Name).Concat(renamed).ToHashSet();
            foreach (var (slot, _, name) in gone)
            {
                string candidate = $"{name} (deleted)";
                for (int k = 2; used.Contains(candidate); k++) candidate = $"{name} (deleted {k})";
                used.Add(candidate);
                renamed[slot] = candidate;
            }
            names = names with { Names = renamed };
        }
        ModelBuilder.SetLabels(model, names);
        return model;
    }

    /// <summary>What a run's training depends on besides its request: the slots that hold a label (the others are masked)
    /// and the training set (which readable examples, in which slot). A rename changes neither.</summary>
    private string TrainingSetKeyLocked(long projectId, SqliteTransaction? transaction)
    {
        var text = new StringBuilder("slots");
        foreach (long slot in Query("SELECT slot FROM labels WHERE project = $p ORDER BY slot;", r => r.GetInt64(0), transaction, ("$p", projectId)))
            text.Append(CultureInfo.InvariantCulture, $",{slot}");
        foreach (var (id, slot) in Query(
                     "SELECT e.id, l.slot FROM examples e JOIN labels l ON l.id = e.label WHERE e.project = $p AND e.example_set = 'train' AND e.corrupt = 0 ORDER BY e.id;",
                     r => (r.GetInt64(0), r.GetInt64(1)), transaction, ("$p", projectId)))
            text.Append(CultureInfo.InvariantCulture, $";{id}:{slot}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>What an evaluation depends on besides the model: the project's labels (their version) and its test set (which
    /// readable examples, under which label).</summary>
    private string TestSetKeyLocked(long projectId)
    {
        var text = new StringBuilder();
        text.Append(Scalar<long>("SELECT labels_version FROM projects WHERE id = $p;", null, ("$p", projectId)).ToString(CultureInfo.InvariantCulture));
        foreach (var (id, label) in Query("SELECT id, label FROM examples WHERE project = $p AND example_set = 'test' AND corrupt = 0 ORDER BY id;",
                     r => (r.GetInt64(0), r.GetInt64(1)), null, ("$p", projectId)))
            text.Append(CultureInfo.InvariantCulture, $";{id}:{label}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
