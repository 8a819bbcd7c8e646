using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Tailor.Building;

namespace Tailor.Studio;

public sealed partial class Workspace
{
    /// <summary>The format version of the project files <see cref="ExportProject"/> writes; <see cref="ImportProject"/>
    /// reads this one and older ones, and refuses newer ones.</summary>
    public const int ProjectFileVersion = 1;

    /// <summary>The <c>format</c> a project file's manifest.json names.</summary>
    public const string ProjectFileFormat = "tailor-project";

    private const string ManifestEntry = "manifest.json";
    private const long MaxManifestBytes = 256L << 20;
    private const long MaxModelBytes = 4L << 30;

    /// <summary>
    /// Writes a project's photos to <paramref name="output"/> as a zip, <c>train/&lt;label&gt;/&lt;file&gt;</c> and
    /// <c>test/&lt;label&gt;/&lt;file&gt;</c> (what <see cref="ImportZip"/> and <c>tailor train</c> read back), streamed: one
    /// photo at a time, stored as it was added (not recompressed). A file is named by its example id and its original name
    /// made safe (<c>12-IMG_0001.jpg</c>), so two never collide; a label's folder is its name with path and reserved
    /// characters replaced (<c>_</c>), the label id appended when two labels would then share a folder. Corrupt images are
    /// exported too (they are the user's files).
    /// </summary>
    /// <returns>How many photos were written.</returns>
    /// <exception cref="TailorException">No such project; a stored image is missing.</exception>
    public int ExportImages(long projectId, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        var (labels, examples) = Read(() =>
        {
            RequireProject(projectId, null);
            return (LabelsLocked(projectId, null), ExamplesWhere("e.project = $p ORDER BY e.id", null, ("$p", projectId)));
        });
        var formats = Read(() => Query("SELECT id, format FROM examples WHERE project = $p;", r => (Id: r.GetInt64(0), Format: r.GetString(1)), null, ("$p", projectId))
            .ToDictionary(r => r.Id, r => r.Format));
        var folders = LabelFolders(labels);
        using var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var example in examples)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string entryName = $"{SetName(example.Set)}/{folders[example.LabelId]}/{ExportFileName(example, formats.GetValueOrDefault(example.Id, ""))}";
            var entry = zip.CreateEntry(entryName, CompressionLevel.NoCompression);
            entry.LastWriteTime = example.Added;
            using var source = OpenStored(ImageStore.ImagePath(example.Sha256), example.Id);
            using var target = entry.Open();
            source.CopyTo(target, 1 << 16);
        }
        return examples.Count;
    }

    private static Dictionary<long, string> LabelFolders(IReadOnlyList<LabelInfo> labels)
    {
        var folders = new Dictionary<long, string>();
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var label in labels)
        {
            string folder = SafeSegment(label.Name);
            if (!used.Add(folder)) used.Add(folder = $"{folder}-{label.Id}");
            folders[label.Id] = folder;
        }
        return folders;
    }

    /// <summary>&lt;id&gt;-&lt;original name made safe&gt;, with the extension of the content's format (the user's own
    /// when it names that format: .jpeg stays .jpeg).</summary>
    internal static string ExportFileName(ExampleInfo example, string format)
    {
        string ext = format switch
        {
            "jpeg" => ".jpg", "png" => ".png", "gif" => ".gif", "bmp" => ".bmp", "webp" => ".webp", _ => "",
        };
        string? original = example.OriginalName?.Split('/', '\\')[^1];
        string stem = original is { Length: > 0 } ? SafeSegment(Path.GetFileNameWithoutExtension(original), 80) : example.Source;
        string existing = original is { Length: > 0 } ? Path.GetExtension(original).ToLowerInvariant() : "";
        if (existing.Length > 0 && (existing == ext || (ext == ".jpg" && existing is ".jpeg" or ".jpe")) || ext.Length == 0 && existing.Length > 0 && SafeSegment(existing) == existing)
            ext = existing;
        return $"{example.Id}-{stem}{ext}";
    }

    /// <summary>
    /// Writes a whole project to <paramref name="output"/> as one file (a <c>.tailor</c>: a zip, streamed): its photos
    /// (<c>images/&lt;sha256&gt;</c>), every model version's file (<c>models/&lt;version id&gt;.onnx</c>, with the project's
    /// labels), the uploaded base model if any (<c>base.onnx</c>), and last <c>manifest.json</c> — the format and its
    /// version (<see cref="ProjectFileVersion"/>), the project, its labels with their slots, the examples' metadata, the
    /// runs with their requests and epochs, the model versions with their evaluations and each model file's SHA-256, and
    /// the current version. <see cref="ImportProject"/> reads it back, on this machine or another.
    /// </summary>
    /// <exception cref="TailorException">No such project; a stored file is missing.</exception>
    public void ExportProject(long projectId, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        var snapshot = Read(() => ManifestLocked(projectId));
        using var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        foreach (string hash in snapshot.Examples.Select(e => e.Sha256).Distinct())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entry = zip.CreateEntry($"images/{hash}", CompressionLevel.NoCompression);
            using var source = OpenStored(ImageStore.ImagePath(hash), snapshot.Examples.First(e => e.Sha256 == hash).Id);
            using var target = entry.Open();
            source.CopyTo(target, 1 << 16);
        }
        var versions = new List<ManifestVersion>();
        foreach (var version in snapshot.Versions)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string path = ModelFile(version.Id);   // rewritten with the project's labels first if they changed
            var (sha, bytes) = CopyHashed(path, zip, $"models/{version.Id}.onnx");
            versions.Add(version with { File = $"models/{version.Id}.onnx", Sha256 = sha, Bytes = bytes });
        }
        var project = snapshot.Project;
        if (project.BaseKind == "onnx" && File.Exists(BaseFile(projectId)))
        {
            var (sha, bytes) = CopyHashed(BaseFile(projectId), zip, "base.onnx");
            project = project with { BaseFile = "base.onnx", BaseSha256 = sha, BaseBytes = bytes };
        }
        var manifest = snapshot with { Project = project, Versions = versions, Exported = Now() };
        var manifestEntry = zip.CreateEntry(ManifestEntry, CompressionLevel.Optimal);
        using var stream = manifestEntry.Open();
        JsonSerializer.Serialize(stream, manifest, s_manifestJson);
    }

    private static (string Sha256, long Bytes) CopyHashed(string path, ZipArchive zip, string entryName)
    {
        var entry = zip.CreateEntry(entryName, CompressionLevel.NoCompression);   // float weights do not deflate (Fastest made them 6 % larger)
        using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var target = entry.Open();
        var buffer = new byte[1 << 16];
        long total = 0;
        int n;
        while ((n = source.Read(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            target.Write(buffer, 0, n);
            total += n;
        }
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), total);
    }

    private ProjectManifest ManifestLocked(long projectId)
    {
        var project = Query(
            "SELECT name, created, base_description, base_kind, capacity, current_version, history_from_run FROM projects WHERE id = $p;",
            r => new ManifestProject(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt32(4), NullableLong(r, 5), r.GetInt64(6), null, null, null),
            null, ("$p", projectId)).FirstOrDefault() ?? throw new NotFoundException($"There is no project {projectId} in this workspace.");
        var labels = Query("SELECT id, name, slot FROM labels WHERE project = $p ORDER BY slot;",
            r => new ManifestLabel(r.GetInt64(0), r.GetString(1), r.GetInt32(2)), null, ("$p", projectId));
        var examples = Query(
            """
            SELECT id, label, example_set, sha256, format, width, height, bytes, source, original_name, corrupt, corrupt_reason, added
            FROM examples WHERE project = $p ORDER BY id;
            """,
            r => new ManifestExample(r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt32(5), r.GetInt32(6),
                r.GetInt64(7), r.GetString(8), NullableString(r, 9), r.GetInt64(10) != 0, NullableString(r, 11), r.GetString(12)),
            null, ("$p", projectId));
        var runs = Query("SELECT id, request, state, reason, started, ended, model_version FROM runs WHERE project = $p ORDER BY id;",
            r => new ManifestRun(r.GetInt64(0), r.GetString(1), r.GetString(2), NullableString(r, 3), r.GetString(4), NullableString(r, 5), NullableLong(r, 6), []),
            null, ("$p", projectId));
        runs = runs.Select(run => run with
        {
            Epochs = Query(
                "SELECT epoch, train_loss_mean, train_loss_last_batch, train_accuracy, validation_loss, validation_accuracy, learning_rate, seconds FROM run_epochs WHERE run = $r ORDER BY epoch;",
                r => new ManifestEpoch(r.GetInt32(0), NullableDouble(r, 1), NullableDouble(r, 2), NullableDouble(r, 3), NullableDouble(r, 4), NullableDouble(r, 5),
                    NullableDouble(r, 6), NullableDouble(r, 7)), null, ("$r", run.Id)),
        }).ToList();
        var versions = Query("SELECT id, run, kind, created, evaluation, slot_labels FROM model_versions WHERE project = $p ORDER BY id;",
            r => new ManifestVersion(r.GetInt64(0), NullableLong(r, 1), r.GetString(2), r.GetString(3), "", "", 0, NullableString(r, 4), NullableString(r, 5)),
            null, ("$p", projectId));
        return new ProjectManifest(ProjectFileFormat, ProjectFileVersion, typeof(Workspace).Assembly.GetName().Version?.ToString() ?? "", "", project,
            labels, examples, runs, versions);
    }

    /// <summary>True when <paramref name="path"/> is a zip with a project file's manifest.json (a <c>.tailor</c>), false for
    /// any other zip (photos) or a file that is not a zip.</summary>
    public static bool IsProjectFile(string path)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            return zip.GetEntry(ManifestEntry) is not null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Imports a project file written by <see cref="ExportProject"/> as a new project, with new ids: its labels in their
    /// slots, photos, runs with their epochs and requests, model versions with their evaluations, and the current version —
    /// so the next network run continues from the imported current model, its epochs numbered on from the history. All or
    /// nothing: the manifest and every reference in it are checked, every file's SHA-256 is checked against the manifest
    /// and the current model is loaded before anything is recorded; the rows are written in one transaction; the files
    /// written for it are removed if it fails.
    /// </summary>
    /// <param name="path">The project file.</param>
    /// <param name="name">The new project's name (default the exported project's).</param>
    /// <param name="displayName">What messages call the file (the uploaded file's name); default its file name.</param>
    /// <exception cref="TailorException">Not a project file; a newer format version; damaged (a file missing, a hash that
    /// does not match, a reference to nothing — the message says which).</exception>
    public ProjectInfo ImportProject(string path, string? name, IProgress<ImportProgress>? progress, CancellationToken cancellationToken, string? displayName = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string shown = Shown.Label(displayName ?? Path.GetFileName(path));
        using var zip = OpenZip(path, shown);
        var manifest = ReadManifest(zip, shown);
        CheckManifest(manifest, zip, shown);
        string projectName = CheckName(string.IsNullOrWhiteSpace(name) ? manifest.Project.Name : name, "project");

        var writtenImages = new List<string>();
        var temps = new List<string>();
        var moved = new List<string>();
        bool committed = false;
        try
        {
            // Files first (outside the lock): photos into the content-addressed store, model files to temporary names.
            var hashes = manifest.Examples.Select(e => e.Sha256).Distinct().ToList();
            int steps = hashes.Count + manifest.Versions.Count, done = 0;
            progress?.Report(new ImportProgress(0, steps, 0, 0, 0, null));
            var corrupt = manifest.Examples.Where(e => e.Corrupt).Select(e => e.Sha256).ToHashSet();
            foreach (string hash in hashes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var entry = zip.GetEntry($"images/{hash}")!;
                byte[] bytes = ReadEntry(entry, MaxUploadBytes, shown);
                if (ImageStore.Hash(bytes) != hash) throw Damaged(shown, $"the photo images/{hash} does not match its SHA-256");
                string imagePath = FullPath(ImageStore.ImagePath(hash));
                if (!File.Exists(imagePath))
                {
                    System.IO.Directory.CreateDirectory(Path.GetDirectoryName(imagePath)!);
                    AtomicFile.WriteAllBytes(imagePath, bytes);
                    writtenImages.Add(hash);
                }
                string thumbPath = FullPath(ImageStore.ThumbPath(hash));
                if (!corrupt.Contains(hash) && !File.Exists(thumbPath))
                {
                    try { ImageStore.WriteThumbnail(imagePath, thumbPath, ThumbnailSide); }
                    catch (TailorException) { }   // made (or shown as unreadable) when asked for
                }
                progress?.Report(new ImportProgress(++done, steps, 0, 0, 0, null));
            }
            var modelTemps = new Dictionary<long, string>();
            foreach (var version in manifest.Versions)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string temp = FullPath(Path.Combine("models", $".import-{Guid.NewGuid():N}.tmp"));
                temps.Add(temp);
                ExtractHashed(zip.GetEntry(version.File)!, temp, version.Sha256, shown);
                modelTemps[version.Id] = temp;
                progress?.Report(new ImportProgress(++done, steps, 0, 0, 0, null));
            }
            string? baseTemp = null;
            if (manifest.Project.BaseFile is { } baseEntry)
            {
                baseTemp = FullPath(Path.Combine("bases", $".import-{Guid.NewGuid():N}.tmp"));
                temps.Add(baseTemp);
                ExtractHashed(zip.GetEntry(baseEntry)!, baseTemp, manifest.Project.BaseSha256 ?? "", shown);
            }
            long oldCurrent = manifest.Project.CurrentVersion!.Value;
            try
            {
                UpdatableModel.Load(modelTemps[oldCurrent]);
            }
            catch (TailorException e)
            {
                throw Damaged(shown, $"its current model ({manifest.Versions.First(v => v.Id == oldCurrent).File}) does not load: {e.Message}");
            }
            cancellationToken.ThrowIfCancellationRequested();

            long projectId = Write(transaction =>
            {
                var m = manifest;
                long project = Scalar<long>(
                    "INSERT INTO projects (name, created, base_description, base_kind, capacity) VALUES ($name, $created, $base, $kind, $capacity) RETURNING id;",
                    transaction, ("$name", projectName), ("$created", m.Project.Created), ("$base", m.Project.BaseDescription),
                    ("$kind", m.Project.BaseKind), ("$capacity", m.Project.Capacity));
                var labelIds = new Dictionary<long, long>();
                foreach (var label in m.Labels)
                    labelIds[label.Id] = Scalar<long>("INSERT INTO labels (project, name, slot) VALUES ($p, $name, $slot) RETURNING id;", transaction,
                        ("$p", project), ("$name", CheckName(label.Name, "label")), ("$slot", label.Slot));
                var exampleIds = new Dictionary<long, long>();
                foreach (var e in m.Examples)
                    exampleIds[e.Id] = Scalar<long>(
                        """
                        INSERT INTO examples (project, label, example_set, sha256, format, width, height, bytes, source, original_name, corrupt, corrupt_reason, added)
                        VALUES ($p, $l, $set, $h, $format, $w, $hh, $bytes, $source, $name, $corrupt, $reason, $added) RETURNING id;
                        """, transaction,
                        ("$p", project), ("$l", labelIds[e.Label]), ("$set", e.Set), ("$h", e.Sha256), ("$format", e.Format), ("$w", e.Width), ("$hh", e.Height),
                        ("$bytes", e.Bytes), ("$source", e.Source), ("$name", e.OriginalName is { Length: > MaxOriginalNameLength } o ? o[..MaxOriginalNameLength] : e.OriginalName),
                        ("$corrupt", e.Corrupt ? 1 : 0), ("$reason", e.CorruptReason), ("$added", e.Added));
                var runIds = new Dictionary<long, long>();
                foreach (var run in m.Runs.OrderBy(r => r.Id))
                {
                    bool wasGoing = run.State == "running";
                    long id = Scalar<long>(
                        "INSERT INTO runs (project, request, state, reason, started, ended) VALUES ($p, $req, $s, $reason, $started, $ended) RETURNING id;", transaction,
                        ("$p", project), ("$req", run.Request), ("$s", wasGoing ? "failed" : run.State),
                        ("$reason", wasGoing ? "the run was going on when the project was exported" : run.Reason), ("$started", run.Started),
                        ("$ended", run.Ended ?? (wasGoing ? m.Exported : null)));
                    runIds[run.Id] = id;
                    foreach (var e in run.Epochs)
                        Execute(
                            """
                            INSERT INTO run_epochs (run, epoch, train_loss_mean, train_loss_last_batch, train_accuracy, validation_loss, validation_accuracy, learning_rate, seconds)
                            VALUES ($r, $e, $a, $b, $c, $d, $f, $g, $h);
                            """, transaction, ("$r", id), ("$e", e.Epoch), ("$a", e.TrainLossMean), ("$b", e.TrainLossLastBatch), ("$c", e.TrainAccuracy),
                            ("$d", e.ValidationLoss), ("$f", e.ValidationAccuracy), ("$g", e.LearningRate), ("$h", e.Seconds));
                }
                var versionIds = new Dictionary<long, long>();
                foreach (var v in m.Versions.OrderBy(v => v.Id))
                {
                    long id = Scalar<long>(
                        "INSERT INTO model_versions (project, run, kind, created, file, labels_version) VALUES ($p, $r, $k, $created, '', 0) RETURNING id;", transaction,
                        ("$p", project), ("$r", v.Run is { } r ? runIds[r] : null), ("$k", v.Kind), ("$created", v.Created));
                    versionIds[v.Id] = id;
                }
                foreach (var v in m.Versions)
                {
                    long id = versionIds[v.Id];
                    string relative = Path.Combine("models", $"{id}.onnx");
                    string? evaluation = v.Evaluation is null ? null : RemapEvaluation(v.Evaluation, id, labelIds, exampleIds);
                    Execute("UPDATE model_versions SET file = $f, evaluation = $e, slot_labels = $s WHERE id = $v;", transaction, ("$f", relative), ("$e", evaluation),
                        ("$s", RemapSlotLabels(v.SlotLabels, labelIds, shown)), ("$v", id));
                    File.Move(modelTemps[v.Id], FullPath(relative), overwrite: true);
                    moved.Add(FullPath(relative));
                }
                foreach (var run in m.Runs.Where(r => r.ModelVersion is not null))
                    Execute("UPDATE runs SET model_version = $v WHERE id = $r;", transaction, ("$v", versionIds.GetValueOrDefault(run.ModelVersion!.Value)), ("$r", runIds[run.Id]));
                // The history of epochs the next run continues: from the first imported run at or after the exported start.
                long historyFrom = m.Runs.Where(r => r.Id >= m.Project.HistoryFromRun).Select(r => runIds[r.Id]).DefaultIfEmpty(-1).Min();
                Execute(historyFrom >= 0
                        ? "UPDATE projects SET current_version = $v, history_from_run = $h WHERE id = $p;"
                        : "UPDATE projects SET current_version = $v, history_from_run = (SELECT coalesce(max(id), 0) + 1 FROM runs) WHERE id = $p;",
                    transaction, ("$v", versionIds[oldCurrent]), ("$h", historyFrom), ("$p", project));
                if (baseTemp is not null)
                {
                    File.Move(baseTemp, BaseFile(project), overwrite: true);
                    moved.Add(BaseFile(project));
                }
                AfterImportFilesMoved?.Invoke(project);
                return project;
            });
            committed = true;
            return GetProject(projectId);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw Damaged(shown, e.Message, e);
        }
        finally
        {
            if (!committed)
            {
                foreach (string file in temps.Concat(moved)) TryDelete(file);
                foreach (string hash in writtenImages) RemoveImageIfUnused(hash);
            }
        }
    }

    /// <summary>Called inside an import's transaction after its files are in place (tests make it fail there).</summary>
    internal Action<long>? AfterImportFilesMoved { get; set; }

    private static TailorException Damaged(string shown, string what, Exception? inner = null)
    {
        string message = $"'{shown}' is a damaged Tailor project file: {what}. Export the project again.";
        return inner is null ? new TailorException(message) : new TailorException(message, inner);
    }

    /// <summary>A version's slot labels with the imported labels' ids. A label deleted before the export (so not in the
    /// file) gets an id no label has (its negated manifest id): the version knew it, today's labels do not include it.</summary>
    private static string? RemapSlotLabels(string? json, Dictionary<long, long> labelIds, string shown)
    {
        if (json is null) return null;
        JsonElement[][] slots;
        try { slots = JsonSerializer.Deserialize<JsonElement[][]>(json) ?? []; }
        catch (JsonException e) { throw Damaged(shown, $"a model version's slot labels are not [[slot, label, name], …] ({e.Message})", e); }
        var remapped = new List<object[]>();
        foreach (var s in slots)
        {
            if (s.Length != 3 || s[0].ValueKind != JsonValueKind.Number || s[1].ValueKind != JsonValueKind.Number || s[2].ValueKind != JsonValueKind.String)
                throw Damaged(shown, "a model version's slot labels are not [[slot, label, name], …]");
            long label = s[1].GetInt64();
            remapped.Add([s[0].GetInt32(), labelIds.TryGetValue(label, out long id) ? id : -Math.Abs(label) - 1, s[2].GetString()!]);
        }
        return JsonSerializer.Serialize(remapped);
    }

    private static ProjectManifest ReadManifest(ZipArchive zip, string shown)
    {
        var entry = zip.GetEntry(ManifestEntry)
            ?? throw new TailorException($"'{shown}' is not a Tailor project file: it has no {ManifestEntry}. (A zip of photos, <label>/photo or train/<label>/…, is imported as photos.)");
        if (entry.Length > MaxManifestBytes) throw Damaged(shown, $"its {ManifestEntry} is {entry.Length:N0} bytes, more than a manifest may be ({MaxManifestBytes:N0})");
        JsonDocument document;
        try
        {
            using var stream = new LimitedStream(entry.Open(), MaxManifestBytes);
            document = JsonDocument.Parse(stream);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or IOException)
        {
            throw Damaged(shown, $"its {ManifestEntry} cannot be read ({e.Message})", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String
                || format.GetString() != ProjectFileFormat)
                throw new TailorException($"'{shown}' is not a Tailor project file: its {ManifestEntry} does not say \"format\": \"{ProjectFileFormat}\".");
            if (!root.TryGetProperty("version", out var v) || !v.TryGetInt32(out int version) || version < 1)
                throw Damaged(shown, $"its {ManifestEntry} has no valid format version");
            if (version > ProjectFileVersion)
                throw new TailorException($"'{shown}' is a Tailor project file of format version {version}, written by a newer Tailor; this one reads versions up to {ProjectFileVersion}. " +
                                          "Update Tailor to import it.");
            try
            {
                return root.Deserialize<ProjectManifest>(s_manifestJson) ?? throw Damaged(shown, $"its {ManifestEntry} is empty");
            }
            catch (JsonException e)
            {
                throw Damaged(shown, $"its {ManifestEntry} is not what format version {version} holds ({e.Message})", e);
            }
        }
    }

    /// <summary>Every reference in the manifest points at something, every value is one the workspace stores.</summary>
    private static void CheckManifest(ProjectManifest m, ZipArchive zip, string shown)
    {
        void Require(bool ok, string what) { if (!ok) throw Damaged(shown, what); }
        if (m.Project is null || m.Labels is null || m.Examples is null || m.Runs is null || m.Versions is null) throw Damaged(shown, "its manifest lacks a section");
        Require(m.Project!.Capacity >= 1, $"the capacity is {m.Project.Capacity}");
        Require(m.Project.BaseKind is "embedded" or "onnx", $"the base kind is '{Shown.Label(m.Project.BaseKind ?? "")}'");
        Require(m.Labels.Select(l => l.Id).Distinct().Count() == m.Labels.Count && m.Labels.Select(l => l.Slot).Distinct().Count() == m.Labels.Count
                && m.Labels.Select(l => l.Name).Distinct().Count() == m.Labels.Count, "two labels share an id, a slot or a name");
        foreach (var label in m.Labels)
            Require(label.Slot >= 0 && label.Slot < m.Project.Capacity, $"label '{Shown.Label(label.Name ?? "")}' holds slot {label.Slot}, outside 0..{m.Project.Capacity - 1}");
        var labelIds = m.Labels.Select(l => l.Id).ToHashSet();
        Require(m.Examples.Select(e => e.Id).Distinct().Count() == m.Examples.Count && m.Examples.Select(e => e.Sha256).Distinct().Count() == m.Examples.Count,
            "two examples share an id or the same photo");
        foreach (var e in m.Examples)
        {
            Require(labelIds.Contains(e.Label), $"example {e.Id} names label {e.Label}, which the file does not have");
            Require(e.Set is "train" or "test", $"example {e.Id} is in set '{Shown.Label(e.Set ?? "")}'");
            Require(e.Source is not null && s_sources.Contains(e.Source), $"example {e.Id} has source '{Shown.Label(e.Source ?? "")}'");
            Require(e.Sha256 is { Length: 64 } h && h.All(c => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c)), $"example {e.Id} has no valid SHA-256");
            Require(zip.GetEntry($"images/{e.Sha256}") is not null, $"the photo of example {e.Id} (images/{e.Sha256}) is missing");
        }
        var runIds = m.Runs.Select(r => r.Id).ToHashSet();
        var versionIds = m.Versions.Select(v => v.Id).ToHashSet();
        Require(runIds.Count == m.Runs.Count && versionIds.Count == m.Versions.Count, "two runs or two model versions share an id");
        foreach (var v in m.Versions)
        {
            Require(v.Kind is "base" or "trained" or "reset", $"model version {v.Id} is of kind '{Shown.Label(v.Kind ?? "")}'");
            Require(v.Run is null || runIds.Contains(v.Run.Value), $"model version {v.Id} names run {v.Run}, which the file does not have");
            Require(v.File is { Length: > 0 } && zip.GetEntry(v.File) is not null, $"the model file of version {v.Id} ({Shown.Label(v.File ?? "")}) is missing");
        }
        foreach (var r in m.Runs)
        {
            Require(r.ModelVersion is null or <= 0 || versionIds.Contains(r.ModelVersion.Value), $"run {r.Id} names model version {r.ModelVersion}, which the file does not have");
            Require(r.Request is not null && r.State is not null && r.Started is not null && r.Epochs is not null, $"run {r.Id} lacks its request, state, start or epochs");
        }
        Require(m.Project.CurrentVersion is { } current && versionIds.Contains(current), "its current model version is not among its versions");
        Require(m.Project.BaseFile is null || zip.GetEntry(m.Project.BaseFile) is not null, "its base model file is missing");
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, long cap, string shown)
    {
        if (entry.Length > cap) throw Damaged(shown, $"{entry.FullName} is {entry.Length:N0} bytes, more than {cap:N0}");
        using var stream = entry.Open();
        using var buffer = new MemoryStream((int)Math.Max(0, entry.Length));
        new LimitedStream(stream, cap + 1).CopyTo(buffer);
        if (buffer.Length > cap) throw Damaged(shown, $"{entry.FullName} is more than {cap:N0} bytes");
        return buffer.ToArray();
    }

    private static void ExtractHashed(ZipArchiveEntry entry, string target, string sha256, string shown)
    {
        if (entry.Length > MaxModelBytes) throw Damaged(shown, $"{entry.FullName} is {entry.Length:N0} bytes, more than a model file may be");
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            using (var source = new LimitedStream(entry.Open(), MaxModelBytes + 1))
            using (var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var buffer = new byte[1 << 16];
                int n;
                while ((n = source.Read(buffer)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    file.Write(buffer, 0, n);
                }
                file.Flush(flushToDisk: true);
            }
            if (Convert.ToHexStringLower(hash.GetHashAndReset()) != sha256)
                throw Damaged(shown, $"{entry.FullName} does not match its SHA-256");
        }
    }

    /// <summary>An evaluation's ids in the new project's terms; rows of examples no longer in the project are left out.</summary>
    private static string RemapEvaluation(string json, long versionId, Dictionary<long, long> labels, Dictionary<long, long> examples)
    {
        EvaluationView? view;
        try { view = JsonSerializer.Deserialize<EvaluationView>(json, s_json); }
        catch (JsonException) { return json; }
        if (view is null) return json;
        IReadOnlyList<long> Ids(IEnumerable<long> ids) => ids.Where(examples.ContainsKey).Select(id => examples[id]).ToList();
        var remapped = view with
        {
            VersionId = versionId,
            PerLabel = view.PerLabel.Select(l => l with { LabelId = labels.GetValueOrDefault(l.LabelId) }).ToList(),
            Confusion = view.Confusion.Select(row => (IReadOnlyList<ConfusionCell>)row.Select(c => new ConfusionCell(c.Count, Ids(c.ExampleIds))).ToList()).ToList(),
            Rows = view.Rows.Where(r => examples.ContainsKey(r.ExampleId)).Select(r => r with { ExampleId = examples[r.ExampleId] }).ToList(),
            Skipped = view.Skipped.Where(s => examples.ContainsKey(s.ExampleId)).Select(s => s with { ExampleId = examples[s.ExampleId] }).ToList(),
        };
        return JsonSerializer.Serialize(remapped, s_json);
    }

    private static readonly JsonSerializerOptions s_manifestJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    // ---- the manifest (format version 1) -------------------------------------------------------------------------
    // Times are kept as the workspace stores them (ISO 8601 text); requests and evaluations as their JSON text.

    internal sealed record ProjectManifest(string Format, int Version, string Tailor, string Exported, ManifestProject Project,
        List<ManifestLabel> Labels, List<ManifestExample> Examples, List<ManifestRun> Runs, List<ManifestVersion> Versions);

    internal sealed record ManifestProject(string Name, string Created, string BaseDescription, string BaseKind, int Capacity, long? CurrentVersion,
        long HistoryFromRun, string? BaseFile, string? BaseSha256, long? BaseBytes);

    internal sealed record ManifestLabel(long Id, string Name, int Slot);

    internal sealed record ManifestExample(long Id, long Label, string Set, string Sha256, string Format, int Width, int Height, long Bytes,
        string Source, string? OriginalName, bool Corrupt, string? CorruptReason, string Added);

    internal sealed record ManifestRun(long Id, string Request, string State, string? Reason, string Started, string? Ended, long? ModelVersion,
        List<ManifestEpoch> Epochs);

    internal sealed record ManifestEpoch(int Epoch, double? TrainLossMean, double? TrainLossLastBatch, double? TrainAccuracy, double? ValidationLoss,
        double? ValidationAccuracy, double? LearningRate, double? Seconds);

    /// <param name="SlotLabels">Which label held each slot when the version was made (<c>[[slot, label id, name], …]</c>, label
    /// ids of the manifest); absent in files written before it was kept: the version is then taken to know every label.</param>
    internal sealed record ManifestVersion(long Id, long? Run, string Kind, string Created, string File, string Sha256, long Bytes, string? Evaluation,
        string? SlotLabels = null);
}
