using Microsoft.Data.Sqlite;
using Tailor.Building;
using Tailor.Spec;

namespace Tailor.Studio;

public sealed partial class Workspace
{
    /// <summary>Adds a label to a project: it claims the lowest free slot of the model (models loaded from now on, and model
    /// files given by <see cref="ModelFile"/>, have its name; the model learns it in the next run).</summary>
    /// <param name="projectId">The project.</param>
    /// <param name="name">Any Unicode text (stored NFC-normalized and trimmed; no control characters); it is never
    /// used in a file path.</param>
    /// <exception cref="TailorException">No such project; an empty, too long or duplicate name; no free slot (the message
    /// gives the capacity and the labels holding the slots).</exception>
    public LabelInfo AddLabel(long projectId, string name)
    {
        string label = CheckName(name, "label");
        long id = Write(transaction =>
        {
            var project = ProjectLocked(projectId, transaction);
            if (project.Labels.Any(l => l.Name == label))
                throw new TailorException($"Project '{Shown.Label(project.Name)}' already has a label '{Shown.Label(label)}'.");
            var taken = project.Labels.Select(l => l.Slot).ToHashSet();
            int slot = Enumerable.Range(0, project.Capacity).FirstOrDefault(s => !taken.Contains(s), -1);
            if (slot < 0)
                throw new TailorException(
                    $"Cannot add the label '{Shown.Label(label)}' to project '{Shown.Label(project.Name)}': all {project.Capacity} slots of its model are in use " +
                    $"(capacity {project.Capacity}: {string.Join(", ", project.Labels.Select(l => Shown.Label(l.Name)))}). Delete a label, or create a project with a larger capacity.");
            long id = Scalar<long>("INSERT INTO labels (project, name, slot) VALUES ($p, $name, $slot) RETURNING id;", transaction,
                ("$p", projectId), ("$name", label), ("$slot", slot));
            LabelsChangedLocked(projectId, transaction);
            return id;
        });
        return Read(() => LabelsLocked(projectId, null).Single(l => l.Id == id));
    }

    /// <summary>Renames a label. It keeps its slot, so what the model learned for it stays; models loaded from now on, and
    /// the model files <see cref="ModelFile"/> gives (rewritten atomically in place), have the new class name.</summary>
    /// <exception cref="TailorException">No such project or label; an empty, too long or duplicate name.</exception>
    public LabelInfo RenameLabel(long projectId, long labelId, string newName)
    {
        string label = CheckName(newName, "label");
        Write(transaction =>
        {
            var project = ProjectLocked(projectId, transaction);
            var old = project.Labels.FirstOrDefault(l => l.Id == labelId)
                ?? throw new NotFoundException($"Project '{Shown.Label(project.Name)}' has no label {labelId}.");
            if (old.Name == label) return 0;
            if (project.Labels.Any(l => l.Name == label && l.Id != labelId))
                throw new TailorException($"Project '{Shown.Label(project.Name)}' already has a label '{Shown.Label(label)}'.");
            Execute("UPDATE labels SET name = $name WHERE id = $l;", transaction, ("$name", label), ("$l", labelId));
            LabelsChangedLocked(projectId, transaction);
            return 0;
        });
        return Read(() => LabelsLocked(projectId, null).Single(l => l.Id == labelId));
    }

    /// <summary>Deletes a label and all its examples; its slot becomes free (and is masked out of the current model).</summary>
    /// <exception cref="TailorException">No such project or label.</exception>
    public void DeleteLabel(long projectId, long labelId)
    {
        var hashes = Write(transaction =>
        {
            var project = ProjectLocked(projectId, transaction);
            if (project.Labels.All(l => l.Id != labelId))
                throw new NotFoundException($"Project '{Shown.Label(project.Name)}' has no label {labelId}.");
            var hashes = Query("SELECT sha256 FROM examples WHERE label = $l;", r => r.GetString(0), transaction, ("$l", labelId));
            Execute("DELETE FROM labels WHERE id = $l;", transaction, ("$l", labelId));
            LabelsChangedLocked(projectId, transaction);
            return hashes;
        });
        foreach (string hash in hashes) RemoveImageIfUnused(hash);
    }

    /// <summary>The model's slot names as the project's labels say: each label in its slot, the other slots free placeholders
    /// (named <c>user&lt;slot&gt;</c>, or with a suffix when a label already has that name).</summary>
    internal static ClassLabels SlotNames(int capacity, IEnumerable<(string Name, int Slot)> labels)
    {
        var names = new string[capacity];
        foreach (var (name, slot) in labels) names[slot] = name;
        var used = names.Where(n => n is not null).ToHashSet();
        var placeholders = new List<int>();
        for (int slot = 0; slot < capacity; slot++)
        {
            if (names[slot] is not null) continue;
            string candidate = $"user{slot}";
            for (int k = 1; used.Contains(candidate); k++) candidate = $"user{slot}_{k}";
            used.Add(candidate);
            names[slot] = candidate;
            placeholders.Add(slot);
        }
        return new ClassLabels { Names = names, Placeholders = placeholders };
    }

    /// <summary>Writes the project's labels into <paramref name="model"/>'s slots.</summary>
    private void ApplyLabelsLocked(long projectId, UpdatableModel model, SqliteTransaction? transaction)
    {
        var labels = LabelsLocked(projectId, transaction);
        int capacity = model.Spec.Labels.Capacity;
        // A k-NN may have grown beyond the project's capacity; the labels still fit in the slots they hold.
        ModelBuilder.SetLabels(model, SlotNames(capacity, labels.Where(l => l.Slot < capacity).Select(l => (l.Name, l.Slot))));
    }

    /// <summary>Marks every model file of the project as holding older labels; <see cref="ModelFile"/> brings one up to date
    /// when it is asked for (loading a model applies the labels in memory anyway).</summary>
    private void LabelsChangedLocked(long projectId, SqliteTransaction transaction) =>
        Execute("UPDATE projects SET labels_version = labels_version + 1 WHERE id = $p;", transaction, ("$p", projectId));

    /// <summary>Rewrites a version's model file with the project's labels (atomically, in place) when they changed since it
    /// was written.</summary>
    private void SyncModelFileLabelsLocked(long versionId)
    {
        var row = Query(
            "SELECT v.project, v.file, v.labels_version, p.labels_version FROM model_versions v JOIN projects p ON p.id = v.project WHERE v.id = $v;",
            r => (Project: r.GetInt64(0), File: r.GetString(1), Have: r.GetInt64(2), Want: r.GetInt64(3)), null, ("$v", versionId));
        if (row.Count == 0 || row[0].Have == row[0].Want) return;
        var (project, file, _, want) = row[0];
        var model = UpdatableModel.Load(FullPath(file));
        ApplyLabelsLocked(project, model, null);
        model.Save(FullPath(file));
        Execute("UPDATE model_versions SET labels_version = $w WHERE id = $v;", null, ("$w", want), ("$v", versionId));
    }
}
