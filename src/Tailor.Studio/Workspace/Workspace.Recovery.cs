using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Studio;

/// <summary>What <see cref="Workspace.Open"/> removed of what a killed process left: files no row references.</summary>
/// <param name="Images">Image files no example holds (an upload killed between writing the file and recording it).</param>
/// <param name="Thumbnails">Thumbnails of such images.</param>
/// <param name="Models">Model files no version references (a model write killed before its version was recorded).</param>
/// <param name="TemporaryFiles">Temporary files of atomic writes killed before the move into place.</param>
/// <param name="Checkpoints">Checkpoints of runs that ended, or that a later run made impossible to resume.</param>
/// <param name="InterruptedImports">Projects an import (a folder or a zip, as a new project) was making when the process
/// was killed, deleted with what they held: the photos are still in the folder or zip, and a project with part of them
/// would look complete.</param>
public sealed record SweepReport(int Images, int Thumbnails, int Models, int TemporaryFiles, int Checkpoints, int InterruptedImports = 0)
{
    /// <summary>Files removed in all.</summary>
    public int Total => Images + Thumbnails + Models + TemporaryFiles + Checkpoints;
}

public sealed partial class Workspace
{
    private const string CheckpointFolder = "checkpoints";

    private sealed record InterruptedRow(long Id, string Request, DateTimeOffset Started, DateTimeOffset? Ended, long? From, long? Current,
        IReadOnlyList<EpochRecord> Recorded, bool TrainingSetChanged = false);

    /// <summary>What the sweep at <see cref="Open"/> removed.</summary>
    public SweepReport LastSweep { get; private set; } = new(0, 0, 0, 0, 0);

    /// <inheritdoc/>
    /// <remarks><c>checkpoints/&lt;run id&gt;.ckpt</c>; removed when the run ends, and at <see cref="Open"/> when it cannot resume.</remarks>
    public string? CheckpointPath(long runId)
    {
        string folder = FullPath(CheckpointFolder);
        System.IO.Directory.CreateDirectory(folder);
        return Path.Combine(folder, runId.ToString(CultureInfo.InvariantCulture) + ".ckpt");
    }

    /// <inheritdoc/>
    /// <exception cref="TailorException">No project has this id.</exception>
    public InterruptedRun? InterruptedRun(long projectId)
    {
        var found = Read(() =>
        {
            RequireProject(projectId, null);
            var rows = Query(
                """
                SELECT r.id, r.request, r.started, r.ended, r.from_version, p.current_version, r.training_set_key
                FROM runs r JOIN projects p ON p.id = r.project
                WHERE r.project = $p AND r.state = 'interrupted' AND r.id = (SELECT max(id) FROM runs WHERE project = $p);
                """,
                r => (Row: new InterruptedRow(r.GetInt64(0), r.GetString(1), Time(r.GetString(2)), NullableString(r, 3) is { } e ? Time(e) : null,
                    NullableLong(r, 4), NullableLong(r, 5), []), Key: NullableString(r, 6)), null, ("$p", projectId));
            if (rows.Count == 0) return null;
            return rows[0].Row with
            {
                // Runs recorded before the key was kept (an older workspace) are not said to have changed.
                TrainingSetChanged = rows[0].Key is { } key && key != TrainingSetKeyLocked(projectId, null),
                Recorded = Query("SELECT epoch, train_loss_mean, train_loss_last_batch, train_accuracy, validation_loss, validation_accuracy, learning_rate, seconds FROM run_epochs WHERE run = $r ORDER BY epoch;",
                    ReadEpoch, null, ("$r", rows[0].Row.Id)),
            };
        });
        if (found is null) return null;
        var run = found;
        var recorded = found.Recorded;
        var request = JsonSerializer.Deserialize<RunRequest>(run.Request, s_json) ?? new RunRequest();

        // The checkpoint is written after its epoch is recorded: it holds at most as many epochs as the table, and the
        // epochs recorded after it (a kill in between) are trained again. A checkpoint that does not read is not used.
        int done = 0;
        string? checkpoint = null;
        string path = CheckpointPath(run.Id)!;
        if (request.Head == RunHead.NeuralNetwork && File.Exists(path))
        {
            try
            {
                int k = Checkpoint.Read(path).EpochsCompleted;
                if (k <= recorded.Count) (done, checkpoint) = (k, k > 0 ? path : null);
            }
            catch (TailorException)
            {
                // Damaged (not by a kill: checkpoints are written atomically): the run resumes from its beginning.
            }
        }

        string? whyNot = request.Head != RunHead.NeuralNetwork
            ? $"A {(request.Head == RunHead.Knn ? "k-NN" : "logistic-regression")} run takes seconds and keeps no checkpoint: run it again."
            : run.From is null || run.From != run.Current
                ? "The project's current model changed after the run began (a reset, or another version made current): it cannot continue that model. Run it again."
                : null;
        return new InterruptedRun(run.Id, projectId, request, run.Started, run.Ended, done, recorded.Take(done).ToList(), checkpoint, whyNot is null, whyNot,
            run.TrainingSetChanged);
    }

    /// <inheritdoc/>
    /// <exception cref="TailorException">No such run, or it is not interrupted.</exception>
    public void ReopenRun(long runId, int keepEpochs) => Write(transaction =>
    {
        RequireRun(runId, transaction);
        if (Scalar<string>("SELECT state FROM runs WHERE id = $r;", transaction, ("$r", runId)) != "interrupted")
            throw new TailorException($"Run {runId} is not interrupted; only a run the studio was stopped during can resume.");
        var kept = Query("SELECT epoch FROM run_epochs WHERE run = $r ORDER BY epoch;", r => r.GetInt32(0), transaction, ("$r", runId)).Take(keepEpochs).ToList();
        Execute("DELETE FROM run_epochs WHERE run = $r AND epoch > $last;", transaction, ("$r", runId), ("$last", kept.Count == 0 ? int.MinValue : kept[^1]));
        if (keepEpochs == 0) DeleteCheckpoint(runId);
        return Execute("UPDATE runs SET state = 'running', reason = NULL, ended = NULL WHERE id = $r;", transaction, ("$r", runId));
    });

    /// <summary>A new run on the project: its earlier interrupted runs can no longer resume (the new one may change the
    /// model they continue), so their checkpoints go.</summary>
    private void ForgetInterruptedLocked(long projectId, long newRun, SqliteTransaction transaction)
    {
        foreach (long run in Query("SELECT id FROM runs WHERE project = $p AND state = 'interrupted' AND id <> $r;", r => r.GetInt64(0), transaction,
                     ("$p", projectId), ("$r", newRun)))
            DeleteCheckpoint(run);
    }

    private void DeleteCheckpoint(long runId) =>
        TryDelete(Path.Combine(Directory, CheckpointFolder, runId.ToString(CultureInfo.InvariantCulture) + ".ckpt"));

    /// <summary>Runs left 'running' by a process that was killed. A run that had committed its model had finished (or
    /// was stopped) and only its end was not recorded; the others are interrupted (<see cref="InterruptedRun"/>).</summary>
    private void MarkInterruptedRuns()
    {
        lock (_gate)
        {
            Execute(_db, "UPDATE runs SET state = 'completed', reason = coalesce(reason, 'The studio stopped as the run ended; its model had been committed.'), ended = $now " +
                "WHERE state = 'running' AND model_version IS NOT NULL;", null, ("$now", Now()));
            Execute(_db, "UPDATE runs SET state = 'interrupted', reason = 'The studio stopped during the run.', ended = $now WHERE state = 'running';",
                null, ("$now", Now()));
        }
    }

    /// <summary>
    /// Removes what a process killed at any instant can leave: an image (and its thumbnail) written before its example's
    /// row was committed, a model file written before its version's row, temporary files of atomic writes, checkpoints of
    /// runs that cannot resume. Only files named as the workspace names them are considered; the database is the truth.
    /// One query per kind and one listing of each folder: for 5,000 images, two folder walks of 256 subfolders.
    /// </summary>
    private void Sweep()
    {
        // Projects an import was making when a kill stopped it go first, with their files (DeleteProject removes them).
        List<long> importing;
        lock (_gate) importing = Query("SELECT id FROM projects WHERE importing = 1;", r => r.GetInt64(0));
        foreach (long id in importing) DeleteProject(id);
        HashSet<string> hashes, versionFiles;
        HashSet<long> projects, resumable;
        lock (_gate)
        {
            hashes = [.. Query("SELECT DISTINCT sha256 FROM examples;", r => r.GetString(0))];
            versionFiles = [.. Query("SELECT file FROM model_versions;", r => Path.GetFileName(r.GetString(0)))];
            projects = [.. Query("SELECT id FROM projects;", r => r.GetInt64(0))];
            resumable = [.. Query("SELECT r.id FROM runs r WHERE r.state = 'interrupted' AND r.id = (SELECT max(id) FROM runs WHERE project = r.project);", r => r.GetInt64(0))];
        }
        int images = 0, thumbs = 0, models = 0, temporary = 0, checkpoints = 0;
        bool Remove(string path)
        {
            try { File.Delete(path); return true; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        }
        // AtomicFile's temporary files: .NAME.PID.GUID.tmp. This process holds the workspace lock and writes nothing yet.
        static bool IsTemporary(string name) => name.StartsWith('.') && name.EndsWith(".tmp", StringComparison.Ordinal);
        static long? Id(string name, string extension) =>
            name.EndsWith(extension, StringComparison.Ordinal) && long.TryParse(name.AsSpan(0, name.Length - extension.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long id)
                ? id : null;
        IEnumerable<string> Files(string folder, bool nested)
        {
            string full = FullPath(folder);
            if (!System.IO.Directory.Exists(full)) return [];
            return nested ? System.IO.Directory.EnumerateDirectories(full).SelectMany(System.IO.Directory.EnumerateFiles) : System.IO.Directory.EnumerateFiles(full);
        }

        foreach (string file in Files("images", nested: true).ToList())
        {
            string name = Path.GetFileName(file);
            if (IsTemporary(name)) temporary += Remove(file) ? 1 : 0;
            else if (name.Length == 64 && !hashes.Contains(name)) images += Remove(file) ? 1 : 0;
        }
        foreach (string file in Files("thumbs", nested: true).ToList())
        {
            string name = Path.GetFileName(file);
            if (IsTemporary(name)) temporary += Remove(file) ? 1 : 0;
            else if (name.Length == 64 + 4 && name.EndsWith(".jpg", StringComparison.Ordinal) && !hashes.Contains(name[..64])) thumbs += Remove(file) ? 1 : 0;
        }
        foreach (string file in Files("models", nested: false).ToList())
        {
            string name = Path.GetFileName(file);
            if (IsTemporary(name)) temporary += Remove(file) ? 1 : 0;
            else if (Id(name, ".onnx") is not null && !versionFiles.Contains(name)) models += Remove(file) ? 1 : 0;
        }
        foreach (string file in Files("bases", nested: false).ToList())
        {
            string name = Path.GetFileName(file);
            if (IsTemporary(name)) temporary += Remove(file) ? 1 : 0;
            else if (Id(name, ".onnx") is long project && !projects.Contains(project)) models += Remove(file) ? 1 : 0;
        }
        foreach (string file in Files(CheckpointFolder, nested: false).ToList())
        {
            string name = Path.GetFileName(file);
            if (IsTemporary(name)) temporary += Remove(file) ? 1 : 0;
            else if (Id(name, ".ckpt") is long run && !resumable.Contains(run)) checkpoints += Remove(file) ? 1 : 0;
        }
        foreach (string file in Files(".", nested: false).ToList())
            if (IsTemporary(Path.GetFileName(file))) temporary += Remove(file) ? 1 : 0;
        LastSweep = new SweepReport(images, thumbs, models, temporary, checkpoints, importing.Count);
    }
}
