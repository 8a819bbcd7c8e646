using System.Text.Json;
using Tailor.Data;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Studio;

public sealed partial class Workspace : IRunStore
{
    /// <inheritdoc/>
    public UpdatableModel LoadCurrentModel(long projectId) => LoadModel(projectId);

    /// <inheritdoc/>
    /// <remarks>The project's first version of kind base (the prepared model), with the project's labels in its slots.</remarks>
    public UpdatableModel? LoadBaseModel(long projectId) => Read(() =>
    {
        ProjectName(projectId, null);
        long? baseId = Scalar<long?>("SELECT min(id) FROM model_versions WHERE project = $p AND kind = 'base';", null, ("$p", projectId));
        if (baseId is null) return null;
        var model = UpdatableModel.Load(FullPath(VersionFileLocked(projectId, baseId, null)));
        ApplyLabelsLocked(projectId, model, null);
        return model;
    });

    /// <inheritdoc/>
    /// <exception cref="TailorException">The project has no readable training example.</exception>
    public (LabeledFolder Train, LabeledFolder? Test) LoadData(long projectId) => Read(() =>
    {
        string project = ProjectName(projectId, null);
        var rows = Query(
            "SELECT e.sha256, l.name, e.example_set FROM examples e JOIN labels l ON l.id = e.label WHERE e.project = $p AND e.corrupt = 0 ORDER BY e.id;",
            r => (Example: new LabeledExample(FullPath(ImageStore.ImagePath(r.GetString(0))), r.GetString(1)), Set: r.GetString(2)), null, ("$p", projectId));
        var train = rows.Where(r => r.Set == "train").Select(r => r.Example).ToList();
        var test = rows.Where(r => r.Set == "test").Select(r => r.Example).ToList();
        if (train.Count == 0)
            throw new TailorException($"Project '{Shown.Label(project)}' has no training examples (corrupt images do not count); add photos to its labels' training sets first.");
        return (LabeledFolder.FromExamples(train, $"{project} (training set)"),
                test.Count == 0 ? null : LabeledFolder.FromExamples(test, $"{project} (test set)"));
    });

    /// <inheritdoc/>
    public IReadOnlyList<EpochRecord> PriorEpochs(long projectId) => Read(() =>
    {
        RequireProject(projectId, null);
        return Query(
            """
            SELECT e.epoch, e.train_loss_mean, e.train_loss_last_batch, e.train_accuracy, e.validation_loss, e.validation_accuracy, e.learning_rate, e.seconds
            FROM run_epochs e JOIN runs r ON r.id = e.run
            WHERE r.project = $p AND r.model_version IS NOT NULL AND r.id >= (SELECT history_from_run FROM projects WHERE id = $p)
            ORDER BY r.id, e.epoch;
            """, ReadEpoch, null, ("$p", projectId));
    });

    /// <inheritdoc/>
    public long BeginRun(long projectId, RunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Write(transaction =>
        {
            RequireProject(projectId, transaction);
            long run = Scalar<long>(
                "INSERT INTO runs (project, request, state, started, from_version, training_set_key) VALUES ($p, $req, 'running', $now, (SELECT current_version FROM projects WHERE id = $p), $key) RETURNING id;",
                transaction, ("$p", projectId), ("$req", JsonSerializer.Serialize(request, s_json)), ("$now", Now()), ("$key", TrainingSetKeyLocked(projectId, transaction)));
            ForgetInterruptedLocked(projectId, run, transaction);
            return run;
        });
    }

    /// <inheritdoc/>
    public void RecordEpoch(long runId, EpochRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        Write(transaction =>
        {
            RequireRun(runId, transaction);
            return Execute(
                """
                INSERT OR REPLACE INTO run_epochs (run, epoch, train_loss_mean, train_loss_last_batch, train_accuracy, validation_loss, validation_accuracy, learning_rate, seconds)
                VALUES ($r, $e, $a, $b, $c, $d, $f, $g, $h);
                """, transaction, ("$r", runId), ("$e", record.Epoch), ("$a", Finite(record.TrainLossMean)), ("$b", Finite(record.TrainLossLastBatch)),
                ("$c", Finite(record.TrainAccuracy)), ("$d", record.ValidationLoss is { } v ? Finite(v) : null), ("$f", record.ValidationAccuracy is { } w ? Finite(w) : null),
                ("$g", record.LearningRate), ("$h", record.Seconds));
        });
    }

    /// <inheritdoc/>
    public long CommitModel(long projectId, long runId, UpdatableModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Write(transaction =>
        {
            RequireProject(projectId, transaction);
            RequireRun(runId, transaction);
            var copy = model.Clone();
            ApplyLabelsLocked(projectId, copy, transaction);
            long version = AddVersionLocked(projectId, runId, "trained", copy, transaction);
            Execute("UPDATE runs SET model_version = $v WHERE id = $r;", transaction, ("$v", version), ("$r", runId));
            return version;
        });
    }

    /// <inheritdoc/>
    public void EndRun(long runId, TrainingState state, string? reason, long? modelVersionId) => Write(transaction =>
    {
        RequireRun(runId, transaction);
        int changed = Execute("UPDATE runs SET state = $s, reason = $reason, ended = $now, model_version = coalesce($v, model_version) WHERE id = $r;", transaction,
            ("$s", state.ToString().ToLowerInvariant()), ("$reason", reason), ("$now", Now()), ("$v", modelVersionId), ("$r", runId));
        DeleteCheckpoint(runId);   // an ended run is never resumed
        return changed;
    });

    /// <summary>A project's runs, newest first, each with its epochs.</summary>
    /// <exception cref="TailorException">No such project.</exception>
    public IReadOnlyList<RunInfo> ListRuns(long projectId) => Read(() =>
    {
        RequireProject(projectId, null);
        var runs = Query("SELECT id, project, request, state, reason, started, ended, model_version FROM runs WHERE project = $p ORDER BY id DESC;",
            r => (Id: r.GetInt64(0), Project: r.GetInt64(1), Request: r.GetString(2), State: r.GetString(3), Reason: NullableString(r, 4),
                Started: Time(r.GetString(5)), Ended: NullableString(r, 6) is { } e ? Time(e) : (DateTimeOffset?)null, Version: NullableLong(r, 7)),
            null, ("$p", projectId));
        return runs.Select(r => new RunInfo(r.Id, r.Project, JsonSerializer.Deserialize<RunRequest>(r.Request, s_json) ?? new RunRequest(), r.State, r.Reason,
            r.Started, r.Ended, r.Version is > 0 ? r.Version : null,
            Query("SELECT epoch, train_loss_mean, train_loss_last_batch, train_accuracy, validation_loss, validation_accuracy, learning_rate, seconds FROM run_epochs WHERE run = $r ORDER BY epoch;",
                ReadEpoch, null, ("$r", r.Id)))).ToList();
    });

    private static object? Finite(double value) => double.IsFinite(value) ? value : null;

    private static EpochRecord ReadEpoch(Microsoft.Data.Sqlite.SqliteDataReader r) =>
        new(r.GetInt32(0), DoubleOrNaN(r, 1), DoubleOrNaN(r, 2), DoubleOrNaN(r, 3), NullableDouble(r, 4), NullableDouble(r, 5), DoubleOrNaN(r, 6), DoubleOrNaN(r, 7));

    private void RequireRun(long runId, Microsoft.Data.Sqlite.SqliteTransaction? transaction)
    {
        if (Scalar<long>("SELECT count(*) FROM runs WHERE id = $r;", transaction, ("$r", runId)) == 0)
            throw new NotFoundException($"There is no run {runId} in this workspace.");
    }
}
