namespace Tailor.Data;

/// <summary>One training or test example: an image file and its label (NFC-normalized).</summary>
public sealed record LabeledExample(string Path, string Label);

/// <summary>A dataset laid out as <c>DIR/&lt;label&gt;/&lt;image files&gt;</c>: one sub-folder per label.</summary>
/// <remarks>
/// <para>Labels are the sub-folder names in Unicode normalization form C (see <see cref="LabelComparer"/>);
/// two folders whose names differ only in normalization are one label. Hidden entries (names starting with
/// '.', or with the Hidden attribute) and system junk (Thumbs.db, desktop.ini, .DS_Store…) are skipped;
/// every other file in a label folder is an example — a file that is not an image is reported when it is
/// loaded, not silently dropped. Images in deeper sub-folders (<c>DIR/rock/more/x.jpg</c>) belong to their
/// top-level label folder (<c>rock</c>), as a user who sorted a label's photos into sub-folders expects. Images
/// directly in <c>DIR</c> are an error: <c>DIR</c> is then most likely one label's folder, and scanning it would
/// turn its sub-folders into labels; other files there (a README) are ignored.</para>
/// <para>Order is deterministic: labels by ordinal order of their normalized names, examples by label,
/// then by ordinal order of their normalized paths inside the label folder.</para>
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
    /// <exception cref="TailorException">The folder does not exist, is a file, holds images directly (it is a
    /// label folder: its parent is suggested), has no label sub-folders, a label folder holds no files (it is
    /// named), or there are no examples at all.</exception>
    public static LabeledFolder Scan(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (File.Exists(directory))
            throw new TailorException($"'{Shown.Path(directory)}' is a file, not a folder; a dataset is a folder with one sub-folder per label.");
        if (!Directory.Exists(directory))
            throw new TailorException($"'{Shown.Path(directory)}' does not exist.");

        var root = new DirectoryInfo(directory);
        DirectoryInfo[] labelFolders;
        FileInfo[] loose;
        try
        {
            labelFolders = root.GetDirectories().Where(d => !IsSkipped(d)).ToArray();
            loose = root.GetFiles().Where(f => !IsSkipped(f) && LooksLikeImage(f.Name)).ToArray();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new TailorException($"'{Shown.Path(directory)}' cannot be read: {e.Message}", e);
        }
        if (loose.Length > 0)
        {
            // The data folder was most likely one label's folder: scanning it would learn its sub-folders as labels.
            // The parent as the user wrote the path (relative stays relative), or the absolute one for "." and a root.
            string parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(directory)) is { Length: > 0 } p && Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)) is not ("." or "..")
                ? p : root.Parent?.FullName ?? directory;
            var names = loose.Select(f => f.Name).Order(StringComparer.Ordinal).ToList();
            throw new TailorException(
                $"'{Shown.Path(directory)}' holds {loose.Length} image{(loose.Length == 1 ? "" : "s")} directly ({string.Join(", ", names.Take(3).Select(Shown.Path))}{(names.Count > 3 ? ", …" : "")}): " +
                $"it looks like the folder of one label. A dataset is a folder with one sub-folder per label; give its parent '{Shown.Path(parent)}' " +
                $"(whose sub-folder '{Shown.Path(root.Name)}' becomes the label), or move the images into a label sub-folder such as '{Shown.Path(Path.Combine(directory, "cat"))}'.");
        }
        if (labelFolders.Length == 0)
            throw new TailorException(
                $"'{Shown.Path(directory)}' has no label sub-folders; a dataset is a folder with one sub-folder per label, e.g. '{Shown.Path(Path.Combine(directory, "cat"))}'.");

        // Normalized label → files (normalized file name for sorting, full path). Folders that differ only in
        // normalization merge into one label.
        var byLabel = new SortedDictionary<string, List<(string Key, string Path)>>(StringComparer.Ordinal);
        foreach (var folder in labelFolders)
        {
            string label = LabelComparer.Normalize(folder.Name);
            var files = new List<(string Key, string Path)>();
            CollectFiles(folder, Path.Combine(directory, folder.Name), "", files, depth: 0);
            if (files.Count == 0)
                throw new TailorException(
                    $"The label folder '{Shown.Path(Path.Combine(directory, folder.Name))}' (label '{Shown.Label(label)}') has no files; put at least one image in it or remove it.");
            if (!byLabel.TryGetValue(label, out var list))
                byLabel[label] = list = [];
            list.AddRange(files);
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
            throw new TailorException($"'{Shown.Path(directory)}' holds no examples.");

        return new LabeledFolder(directory, byLabel.Keys.ToArray(), examples);
    }

    /// <summary>A dataset from explicit examples (files anywhere, e.g. an app's own store), for apps that do not keep
    /// one folder per label. Labels are normalized as <see cref="Scan"/> normalizes folder names; they come out in
    /// ordinal order, and each label's examples in the order given.</summary>
    /// <param name="examples">The examples; at least one. Paths are not checked here: an unreadable image is
    /// reported when it is loaded, as with <see cref="Scan"/>.</param>
    /// <param name="root">What <see cref="Root"/> reports (a name for messages); an empty string when omitted.</param>
    /// <exception cref="TailorException">No examples, or an example with an empty label or path.</exception>
    public static LabeledFolder FromExamples(IEnumerable<LabeledExample> examples, string? root = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var byLabel = new SortedDictionary<string, List<LabeledExample>>(StringComparer.Ordinal);
        int index = 0;
        foreach (var example in examples)
        {
            if (example is null || string.IsNullOrEmpty(example.Path))
                throw new TailorException($"Example {index} has no image path.");
            if (string.IsNullOrWhiteSpace(example.Label))
                throw new TailorException($"Example {index} ('{Shown.Path(example.Path)}') has an empty label.");
            string label = LabelComparer.Normalize(example.Label);
            if (!byLabel.TryGetValue(label, out var list))
                byLabel[label] = list = [];
            list.Add(new LabeledExample(example.Path, label));
            index++;
        }
        if (index == 0)
            throw new TailorException($"{(string.IsNullOrEmpty(root) ? "The dataset" : $"'{Shown.Path(root)}'")} holds no examples.");
        return new LabeledFolder(root ?? "", byLabel.Keys.ToArray(), byLabel.Values.SelectMany(l => l).ToArray());
    }

    /// <summary>Every file under a label folder, sub-folders included (hidden and junk entries skipped), as
    /// (normalized path inside the label folder with '/' separators, path as given).</summary>
    private static void CollectFiles(DirectoryInfo folder, string path, string relative, List<(string Key, string Path)> files, int depth)
    {
        // A symbolic link that points to an ancestor would loop for ever; no one sorts photos this deep.
        const int MaxDepth = 32;
        FileInfo[] here;
        DirectoryInfo[] below;
        try
        {
            here = folder.GetFiles().Where(f => !IsSkipped(f)).ToArray();
            below = depth < MaxDepth ? folder.GetDirectories().Where(d => !IsSkipped(d)).ToArray() : [];
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new TailorException($"The label folder '{Shown.Path(path)}' cannot be read: {e.Message}", e);
        }
        files.AddRange(here.Select(f => (LabelComparer.Normalize(relative + f.Name), Path.Combine(path, f.Name))));
        foreach (var sub in below)
            CollectFiles(sub, Path.Combine(path, sub.Name), relative + sub.Name + "/", files, depth + 1);
    }

    /// <summary>File name extensions of the image formats Tailor reads (and a few it does not but a camera writes),
    /// used only to tell a label folder given as the data folder from a data folder with a README in it.</summary>
    private static readonly HashSet<string> s_imageExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif",
    };

    private static bool LooksLikeImage(string name) => s_imageExtensions.Contains(Path.GetExtension(name));

    internal static bool IsSkipped(FileSystemInfo entry) =>
        entry.Name.StartsWith('.') || s_junk.Contains(entry.Name) || entry.Attributes.HasFlag(FileAttributes.Hidden);
}
