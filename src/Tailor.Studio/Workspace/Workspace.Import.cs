using Tailor.Data;

namespace Tailor.Studio;

public sealed partial class Workspace
{
    /// <summary>
    /// Creates a project (on the embedded ResNet18) from a folder: <c>DIR/&lt;label&gt;/…</c> (every image goes to the
    /// training set), or a folder with <c>train/</c> and optionally <c>test/</c> inside, each laid out so. Labels are the
    /// folder names (read by <see cref="LabeledFolder.Scan"/>); each file is added as <see cref="AddExample"/> adds an upload
    /// (source import), so files that are not images are refused and reported through <paramref name="progress"/>, and
    /// damaged ones are stored marked corrupt. The capacity is the default, or the number of labels when larger.
    /// </summary>
    /// <param name="name">The project's name; default the folder's name.</param>
    /// <exception cref="TailorException">The folder cannot be scanned (the message is <see cref="LabeledFolder.Scan"/>'s).</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the project made so far is deleted.</exception>
    public ProjectInfo ImportFolder(string directory, string? name, IProgress<ImportProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string trainDir = Path.Combine(directory, "train"), testDir = Path.Combine(directory, "test");
        bool split = System.IO.Directory.Exists(trainDir);
        var train = LabeledFolder.Scan(split ? trainDir : directory);
        var test = split && System.IO.Directory.Exists(testDir) ? LabeledFolder.Scan(testDir) : null;
        var labels = train.Labels.Concat(test?.Labels ?? []).Distinct().ToList();
        string projectName = name ?? new DirectoryInfo(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar)).Name;

        var project = CreateImportedProject(projectName, ProjectBase.EmbeddedResNet18(Math.Max(TrainingDefaults.Capacity, labels.Count)));
        try
        {
            var labelIds = labels.ToDictionary(l => l, l => AddLabel(project.Id, l).Id);
            var files = train.Examples.Select(e => (Example: e, Set: ExampleSet.Train))
                .Concat((test?.Examples ?? []).Select(e => (Example: e, Set: ExampleSet.Test))).ToList();
            int done = 0, added = 0, duplicates = 0, refused = 0;
            string? lastRefusal = null;
            foreach (var (example, set) in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    using var stream = new FileStream(example.Path, FileMode.Open, FileAccess.Read, FileShare.Read);
                    var result = AddExample(project.Id, labelIds[example.Label], set, stream, "import", Path.GetFileName(example.Path));
                    if (result.Duplicate) duplicates++; else added++;
                }
                catch (Exception e) when (e is TailorException or IOException or UnauthorizedAccessException)
                {
                    refused++;
                    lastRefusal = $"{Shown.Path(example.Path)}: {e.Message}";
                }
                done++;
                progress?.Report(new ImportProgress(done, files.Count, added, duplicates, refused, lastRefusal));
            }
        }
        catch
        {
            DeleteProject(project.Id);
            throw;
        }
        FinishImport(project.Id);
        return GetProject(project.Id);
    }
}
