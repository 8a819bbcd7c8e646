using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tailor.Building;
using Tailor.Spec;

namespace Tailor.Studio;

public sealed partial class Workspace
{
    /// <summary>Called after a new model version's file is written and before its transaction commits (tests make a
    /// commit fail there).</summary>
    internal Action<long>? AfterModelFileWritten { get; set; }

    /// <summary>A project's model versions, oldest first, the current one marked.</summary>
    /// <exception cref="TailorException">No such project.</exception>
    public IReadOnlyList<ModelVersionInfo> ListModelVersions(long projectId) => Read(() =>
    {
        RequireProject(projectId, null);
        long? current = Scalar<long?>("SELECT current_version FROM projects WHERE id = $p;", null, ("$p", projectId));
        return Query("SELECT id, project, run, kind, created, evaluation FROM model_versions WHERE project = $p ORDER BY id;",
            r => new ModelVersionInfo(r.GetInt64(0), r.GetInt64(1), NullableLong(r, 2), r.GetString(3), Time(r.GetString(4)),
                r.GetInt64(0) == current, NullableString(r, 5) is { } json ? JsonSerializer.Deserialize<EvaluationView>(json, s_json)?.Accuracy : null),
            null, ("$p", projectId));
    });

    /// <summary>The file of a model version (to download it), holding the project's labels: when they changed since the file
    /// was written (a label added, renamed or deleted), the file is rewritten first, atomically.</summary>
    /// <exception cref="TailorException">No model version has this id.</exception>
    public string ModelFile(long versionId) => Read(() =>
    {
        string file = Scalar<string?>("SELECT file FROM model_versions WHERE id = $v;", null, ("$v", versionId))
            ?? throw new NotFoundException($"There is no model version {versionId} in this workspace.");
        SyncModelFileLabelsLocked(versionId);
        return FullPath(file);
    });

    /// <summary>A model version (default: the current one) with the project's labels in its slots.</summary>
    /// <exception cref="TailorException">No such project or version (the version must be the project's).</exception>
    public UpdatableModel LoadModel(long projectId, long? versionId = null)
    {
        // The file (tens of MB) is parsed outside the workspace's lock: galleries and thumbnails are not held up meanwhile.
        string file = Read(() => VersionFileLocked(projectId, versionId, null));
        var model = UpdatableModel.Load(FullPath(file));
        Read(() =>
        {
            ApplyLabelsLocked(projectId, model, null);
            return 0;
        });
        return model;
    }

    /// <summary>Undoes training as <c>tailor reset</c> does (<see cref="ModelBuilder.Reset"/>): the classifier gets fresh
    /// weights, fine-tuned layers their pretrained ones; labels stay. A k-NN head is reset from the base version. The
    /// result is a new current version (kind reset); the history of epochs starts again.</summary>
    /// <exception cref="TailorException">No such project; the model cannot be reset (the message is the library's).</exception>
    public ModelVersionInfo ResetToEmpty(long projectId)
    {
        var (model, kind) = Read(() =>
        {
            var current = UpdatableModel.Load(FullPath(VersionFileLocked(projectId, null, null)));
            if (current.Spec.Head == HeadKind.KNearestNeighbors)
            {
                long baseId = Scalar<long>("SELECT min(id) FROM model_versions WHERE project = $p AND kind = 'base';", null, ("$p", projectId));
                current = UpdatableModel.Load(FullPath(VersionFileLocked(projectId, baseId, null)));
            }
            string baseKind = Scalar<string>("SELECT base_kind FROM projects WHERE id = $p;", null, ("$p", projectId));
            return (current, baseKind);
        });
        ModelBuilder.Reset(model, new ResetOptions { BaseModelPath = kind == "onnx" && File.Exists(BaseFile(projectId)) ? BaseFile(projectId) : null });
        long id = Write(transaction =>
        {
            ApplyLabelsLocked(projectId, model, transaction);
            long version = AddVersionLocked(projectId, null, "reset", model, transaction);
            RestartHistoryLocked(projectId, transaction);
            return version;
        });
        return ListModelVersions(projectId).Single(v => v.Id == id);
    }

    /// <summary>Makes an earlier version (the base version, say) current again; the history of epochs starts again.</summary>
    /// <exception cref="TailorException">No such project or version (the version must be the project's).</exception>
    public ModelVersionInfo MakeCurrent(long projectId, long versionId)
    {
        Write(transaction =>
        {
            VersionFileLocked(projectId, versionId, transaction);
            Execute("UPDATE projects SET current_version = $v WHERE id = $p;", transaction, ("$v", versionId), ("$p", projectId));
            RestartHistoryLocked(projectId, transaction);
            return 0;
        });
        return ListModelVersions(projectId).Single(v => v.Id == versionId);
    }

    private void RestartHistoryLocked(long projectId, SqliteTransaction transaction) =>
        Execute("UPDATE projects SET history_from_run = (SELECT coalesce(max(id), 0) + 1 FROM runs) WHERE id = $p;", transaction, ("$p", projectId));

    /// <summary>The file (relative) of a version of the project, or of its current version.</summary>
    private string VersionFileLocked(long projectId, long? versionId, SqliteTransaction? transaction)
    {
        string project = ProjectName(projectId, transaction);
        if (versionId is null)
            return Scalar<string?>("SELECT v.file FROM projects p JOIN model_versions v ON v.id = p.current_version WHERE p.id = $p;", transaction, ("$p", projectId))
                ?? throw new TailorException($"Project '{Shown.Label(project)}' has no current model version.");
        return Scalar<string?>("SELECT file FROM model_versions WHERE id = $v AND project = $p;", transaction, ("$v", versionId), ("$p", projectId))
            ?? throw new NotFoundException($"Project '{Shown.Label(project)}' has no model version {versionId}.");
    }

    /// <summary>Records a model version (whose labels must be the project's now), writes its file atomically as models/&lt;id&gt;.onnx and makes it current, all in
    /// <paramref name="transaction"/>: if anything fails the file is removed and the transaction rolls back, so the previous
    /// current version stays current.</summary>
    private long AddVersionLocked(long projectId, long? runId, string kind, UpdatableModel model, SqliteTransaction transaction)
    {
        long id = Scalar<long>(
            "INSERT INTO model_versions (project, run, kind, created, file, labels_version) VALUES ($p, $r, $k, $now, '', (SELECT labels_version FROM projects WHERE id = $p)) RETURNING id;",
            transaction, ("$p", projectId), ("$r", runId), ("$k", kind), ("$now", Now()));
        string relative = Path.Combine("models", $"{id}.onnx");
        Execute("UPDATE model_versions SET file = $f WHERE id = $v;", transaction, ("$f", relative), ("$v", id));
        Execute("UPDATE projects SET current_version = $v WHERE id = $p;", transaction, ("$v", id), ("$p", projectId));
        RecordSlotLabelsLocked(projectId, id, transaction);
        try
        {
            model.Save(FullPath(relative));
            AfterModelFileWritten?.Invoke(id);
        }
        catch
        {
            TryDelete(FullPath(relative));
            throw;
        }
        return id;
    }

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
}
