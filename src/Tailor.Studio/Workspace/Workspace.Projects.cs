using Microsoft.Data.Sqlite;
using Tailor.Building;

namespace Tailor.Studio;

public sealed partial class Workspace
{
    /// <summary>The longest project or label name, in characters.</summary>
    public const int MaxNameLength = 200;

    /// <summary>All projects, oldest first.</summary>
    public IReadOnlyList<ProjectInfo> ListProjects() => Read(() =>
        Query("SELECT id FROM projects ORDER BY id;", r => r.GetInt64(0)).Select(id => ProjectLocked(id, null)).ToList());

    /// <summary>One project with its labels and their counts.</summary>
    /// <exception cref="TailorException">No project has this id.</exception>
    public ProjectInfo GetProject(long projectId) => Read(() => ProjectLocked(projectId, null));

    /// <summary>Creates a project: prepares its model from <paramref name="baseModel"/> (a few seconds for the embedded
    /// ResNet18) and records it as the project's first, current, model version (kind base). Labels the prepare options
    /// name become the project's labels, in their slots.</summary>
    /// <exception cref="TailorException">An empty or too long name; the base model cannot be prepared (the message is
    /// <see cref="ModelBuilder.Prepare"/>'s).</exception>
    public ProjectInfo CreateProject(string name, ProjectBase baseModel)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        CheckName(name, "project");
        return CreateProject(name, baseModel, ModelBuilder.Prepare(baseModel.Options));
    }

    /// <summary>Creates a project from a model already prepared from <paramref name="baseModel"/> (tests share one).</summary>
    internal ProjectInfo CreateProject(string name, ProjectBase baseModel, UpdatableModel model) =>
        CreateProject(name, baseModel, model, importing: false);

    /// <summary>A new project marked as being imported (see <see cref="FinishImport"/>): an Open after a kill deletes it.</summary>
    private ProjectInfo CreateImportedProject(string name, ProjectBase baseModel)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        CheckName(name, "project");
        return CreateProject(name, baseModel, ModelBuilder.Prepare(baseModel.Options), importing: true);
    }

    /// <summary>Clears the mark of a project made by an import once its last photo is in.</summary>
    private void FinishImport(long projectId) =>
        Write(transaction => { Execute("UPDATE projects SET importing = 0 WHERE id = $p;", transaction, ("$p", projectId)); return 0; });

    private ProjectInfo CreateProject(string name, ProjectBase baseModel, UpdatableModel model, bool importing)
    {
        string projectName = CheckName(name, "project");
        bool uploaded = baseModel.Options.BaseModelPath is not null;
        long id = Write(transaction =>
        {
            long project = Scalar<long>(
                "INSERT INTO projects (name, created, base_description, base_kind, capacity, importing) VALUES ($name, $now, $base, $kind, $capacity, $importing) RETURNING id;",
                transaction, ("$name", projectName), ("$now", Now()), ("$base", baseModel.Description), ("$kind", uploaded ? "onnx" : "embedded"),
                ("$capacity", model.Spec.Labels.Capacity), ("$importing", importing ? 1 : 0));
            var labels = model.Spec.Labels;
            for (int slot = 0; slot < labels.Capacity; slot++)
                if (!labels.IsPlaceholder(slot))
                    Execute("INSERT INTO labels (project, name, slot) VALUES ($p, $name, $slot);", transaction,
                        ("$p", project), ("$name", labels.Names[slot]), ("$slot", slot));
            if (uploaded)
            {
                string source = baseModel.Options.BaseModelPath!;
                AtomicFile.Write(BaseFile(project), s => { using var input = File.OpenRead(source); input.CopyTo(s); });
            }
            AddVersionLocked(project, null, "base", model, transaction);
            return project;
        });
        return GetProject(id);
    }

    /// <summary>Deletes a project with its labels, examples, runs and model files (images other projects hold stay).</summary>
    /// <exception cref="TailorException">No project has this id.</exception>
    public void DeleteProject(long projectId)
    {
        var (files, hashes) = Write(transaction =>
        {
            RequireProject(projectId, transaction);
            var files = Query("SELECT file FROM model_versions WHERE project = $p;", r => r.GetString(0), transaction, ("$p", projectId));
            var hashes = Query("SELECT sha256 FROM examples WHERE project = $p;", r => r.GetString(0), transaction, ("$p", projectId));
            Execute("DELETE FROM projects WHERE id = $p;", transaction, ("$p", projectId));
            return (files, hashes);
        });
        foreach (string file in files) TryDelete(FullPath(file));
        TryDelete(BaseFile(projectId));
        foreach (string hash in hashes.Distinct()) RemoveImageIfUnused(hash);
        SweepFeatures();
    }

    private string BaseFile(long projectId) => Path.Combine(Directory, "bases", $"{projectId}.onnx");

    private static string CheckName(string? name, string what)
    {
        string n = Tailor.Spec.ClassLabels.Normalize(name ?? "");
        if (n.Length == 0)
            throw new TailorException($"The {what} name is empty; give a name of 1 to {MaxNameLength} characters.");
        if (n.Length > MaxNameLength)
            throw new TailorException($"The {what} name is {n.Length} characters long; at most {MaxNameLength} are allowed.");
        foreach (char c in n)
            if (char.IsControl(c))
                throw new TailorException($"The {what} name '{Shown.Label(n)}' contains a control character (U+{(int)c:X4}); names are printable text.");
        return n;
    }

    private void RequireProject(long projectId, SqliteTransaction? transaction)
    {
        if (Scalar<long>("SELECT count(*) FROM projects WHERE id = $p;", transaction, ("$p", projectId)) == 0)
            throw new NotFoundException($"There is no project {projectId} in this workspace.");
    }

    private string ProjectName(long projectId, SqliteTransaction? transaction) =>
        Scalar<string?>("SELECT name FROM projects WHERE id = $p;", transaction, ("$p", projectId))
        ?? throw new NotFoundException($"There is no project {projectId} in this workspace.");

    private ProjectInfo ProjectLocked(long projectId, SqliteTransaction? transaction)
    {
        var project = Query("SELECT id, name, created, base_description, capacity, current_version FROM projects WHERE id = $p;",
            r => (Id: r.GetInt64(0), Name: r.GetString(1), Created: Time(r.GetString(2)), Base: r.GetString(3), Capacity: r.GetInt32(4), Current: NullableLong(r, 5)),
            transaction, ("$p", projectId));
        if (project.Count == 0) throw new NotFoundException($"There is no project {projectId} in this workspace.");
        var p = project[0];
        var labels = LabelsLocked(projectId, transaction);
        return new ProjectInfo(p.Id, p.Name, p.Created, p.Base, p.Capacity, p.Capacity - labels.Count, p.Current, labels);
    }

    private List<LabelInfo> LabelsLocked(long projectId, SqliteTransaction? transaction) => Query(
        """
        SELECT l.id, l.name, l.slot,
               (SELECT count(*) FROM examples e WHERE e.label = l.id AND e.example_set = 'train'),
               (SELECT count(*) FROM examples e WHERE e.label = l.id AND e.example_set = 'test')
        FROM labels l WHERE l.project = $p ORDER BY l.slot;
        """,
        r => new LabelInfo(r.GetInt64(0), r.GetString(1), r.GetInt32(2), r.GetInt32(3), r.GetInt32(4)), transaction, ("$p", projectId));

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
