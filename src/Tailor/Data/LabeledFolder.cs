namespace Tailor.Data;

/// <summary>One training or test example: an image file and its label (NFC-normalized).</summary>
public sealed record LabeledExample(string Path, string Label);

/// <summary>A dataset laid out as <c>DIR/&lt;label&gt;/&lt;image files&gt;</c>: one sub-folder per label.</summary>
/// <remarks>
/// <para>Labels are the sub-folder names in Unicode normalization form C (see <see cref="LabelComparer"/>);
/// two folders whose names differ only in normalization are one label. Hidden entries (names starting with
/// '.', or with the Hidden attribute) and system junk (Thumbs.db, desktop.ini, .DS_Store…) are skipped;
/// every other file in a label folder is an example — a file that is not an image is reported when it is
/// loaded, not silently dropped. Files directly in <c>DIR</c> and deeper sub-folders are ignored.</para>
/// <para>Order is deterministic: labels by ordinal order of their normalized names, examples by label,
/// then by ordinal order of their normalized file names.</para>
/// </remarks>
public sealed class LabeledFolder
{
    private static readonly HashSet<string> s_junk = new(StringComparer.OrdinalIgnoreCase)
    {
        "Thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "Icon\r", "__MACOSX",
    };

    /// <summary>The folder that was scanned, as given.</summary>
    public string Root { get; }

    /// <summary>Labels, NFC-normalized, in ordinal order.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>All examples, grouped by label in <see cref="Labels"/> order, files in ordinal order.</summary>
    public IReadOnlyList<LabeledExample> Examples { get; }

    private LabeledFolder(string root, IReadOnlyList<string> labels, IReadOnlyList<LabeledExample> examples)
    {
        Root = root;
        Labels = labels;
        Examples = examples;
    }

    /// <summary>Index of <paramref name="label"/> in <see cref="Labels"/> compared after normalization,
    /// or -1.</summary>
    public int IndexOf(string label)
    {
        for (int i = 0; i < Labels.Count; i++)
            if (LabelComparer.Instance.Equals(Labels[i], label)) return i;
        return -1;
    }

    /// <summary>The examples of one label (compared after normalization); empty if there is no such label.</summary>
    public IReadOnlyList<LabeledExample> ExamplesOf(string label) =>
        Examples.Where(e => LabelComparer.Instance.Equals(e.Label, label)).ToArray();

    /// <summary>Scans <paramref name="directory"/>.</summary>
    /// <exception cref="TailorException">The folder does not exist, is a file, has no label sub-folders, a
    /// label folder holds no files (it is named), or there are no examples at all.</exception>
    public static LabeledFolder Scan(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (File.Exists(directory))
            throw new TailorException($"'{directory}' is a file, not a folder; a dataset is a folder with one sub-folder per label.");
        if (!Directory.Exists(directory))
            throw new TailorException($"'{directory}' does not exist.");

        var root = new DirectoryInfo(directory);
        DirectoryInfo[] labelFolders;
        try
        {
            labelFolders = root.GetDirectories().Where(d => !IsSkipped(d)).ToArray();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new TailorException($"'{directory}' cannot be read: {e.Message}", e);
        }
        if (labelFolders.Length == 0)
            throw new TailorException(
                $"'{directory}' has no label sub-folders; a dataset is a folder with one sub-folder per label, e.g. '{Path.Combine(directory, "cat")}'.");

        // Normalized label → files (normalized file name for sorting, full path). Folders that differ only in
        // normalization merge into one label.
        var byLabel = new SortedDictionary<string, List<(string Key, string Path)>>(StringComparer.Ordinal);
        foreach (var folder in labelFolders)
        {
            string label = LabelComparer.Normalize(folder.Name);
            FileInfo[] files;
            try
            {
                files = folder.GetFiles().Where(f => !IsSkipped(f)).ToArray();
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                throw new TailorException($"The label folder '{folder.FullName}' cannot be read: {e.Message}", e);
            }
            if (files.Length == 0)
                throw new TailorException(
                    $"The label folder '{Path.Combine(directory, folder.Name)}' (label '{label}') has no files; put at least one image in it or remove it.");
            if (!byLabel.TryGetValue(label, out var list))
                byLabel[label] = list = [];
            list.AddRange(files.Select(f => (LabelComparer.Normalize(f.Name), Path.Combine(directory, folder.Name, f.Name))));
        }

        var examples = new List<LabeledExample>();
        foreach (var (label, files) in byLabel)
        {
            files.Sort((a, b) =>
            {
                int byKey = string.CompareOrdinal(a.Key, b.Key);
                return byKey != 0 ? byKey : string.CompareOrdinal(a.Path, b.Path);
            });
            examples.AddRange(files.Select(f => new LabeledExample(f.Path, label)));
        }
        if (examples.Count == 0)
            throw new TailorException($"'{directory}' holds no examples.");

        return new LabeledFolder(directory, byLabel.Keys.ToArray(), examples);
    }

    internal static bool IsSkipped(FileSystemInfo entry) =>
        entry.Name.StartsWith('.') || s_junk.Contains(entry.Name) || entry.Attributes.HasFlag(FileAttributes.Hidden);
}
