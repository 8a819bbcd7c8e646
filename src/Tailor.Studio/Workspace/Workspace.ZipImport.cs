using System.IO.Compression;
using System.Text;

namespace Tailor.Studio;

public sealed partial class Workspace
{
    private static readonly HashSet<string> s_zipJunk = new(StringComparer.OrdinalIgnoreCase)
    {
        "Thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "__MACOSX",
    };

    /// <summary>
    /// Imports a zip of photos laid out as a folder import is — <c>&lt;label&gt;/…</c> (every photo to the training set) or
    /// <c>train/&lt;label&gt;/…</c> and <c>test/&lt;label&gt;/…</c>, optionally all inside one top folder — as a new project
    /// (on the embedded ResNet18; capacity the default or the number of labels when larger) or into an existing one (labels
    /// it lacks are added). The archive's directory is checked first against <paramref name="limits"/> (entries, total
    /// bytes, compression ratio) and for hostile names (absolute, <c>..</c>, NUL): any of these refuses the whole archive
    /// before anything is written. Entry names are only ever label text and an example's original name, never a path on
    /// disk. Each photo is added as <see cref="AddExample"/> adds an upload (source import): one that is too large, or not
    /// an image by its content, is refused and reported through <paramref name="progress"/>, and the others go on.
    /// </summary>
    /// <param name="zipPath">The archive (an upload is streamed to a temporary file first).</param>
    /// <param name="name">The new project's name (default <paramref name="displayName"/> without its extension); ignored
    /// when <paramref name="intoProjectId"/> is given.</param>
    /// <param name="intoProjectId">An existing project to add the photos to, or null for a new project.</param>
    /// <param name="displayName">What messages call the archive (the uploaded file's name); default its file name.</param>
    /// <exception cref="TailorException">Not a zip; a hostile entry name; a limit exceeded (the message names it and the
    /// entry); no photo in a label folder; a label the project has no free slot for.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; a new project made so far is deleted.</exception>
    public ProjectInfo ImportZip(string zipPath, string? name, long? intoProjectId, IProgress<ImportProgress>? progress,
        CancellationToken cancellationToken, ZipImportLimits? limits = null, string? displayName = null)
    {
        ArgumentNullException.ThrowIfNull(zipPath);
        limits ??= ZipImportLimits.Default;
        string shown = displayName ?? Path.GetFileName(zipPath);
        using var zip = OpenZip(zipPath, shown);
        var plan = PlanZip(zip, shown, limits);
        if (intoProjectId is { } existing) RequireProjectExists(existing);

        ProjectInfo project = intoProjectId is { } into
            ? GetProject(into)
            : CreateImportedProject(string.IsNullOrWhiteSpace(name) ? Path.GetFileNameWithoutExtension(shown) : name,
                ProjectBase.EmbeddedResNet18(Math.Max(TrainingDefaults.Capacity, plan.Labels.Count)));
        try
        {
            var labelIds = project.Labels.ToDictionary(l => l.Name, l => l.Id);
            foreach (string label in plan.Labels)
                if (!labelIds.ContainsKey(Tailor.Spec.ClassLabels.Normalize(label)))
                    labelIds[Tailor.Spec.ClassLabels.Normalize(label)] = AddLabel(project.Id, label).Id;
            int done = 0, added = 0, duplicates = 0, refused = plan.Refused.Count;
            string? lastRefusal = plan.Refused.LastOrDefault();
            long total = 0;
            int count = plan.Files.Count + plan.Refused.Count;
            progress?.Report(new ImportProgress(0, count, 0, 0, refused, lastRefusal));
            done = plan.Refused.Count;
            foreach (var file in plan.Files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string fileName = file.Entry.FullName.Split('/', '\\')[^1];
                byte[]? bytes = null;
                try
                {
                    if (file.Entry.Length > limits.MaxFileBytes)
                        throw new TailorException(TooLarge(file.Entry.Length, limits));
                    // The directory's sizes may lie: count what is actually read, one byte past the cap.
                    using var entry = file.Entry.Open();
                    using var buffer = new MemoryStream();
                    new LimitedStream(entry, limits.MaxFileBytes + 1).CopyTo(buffer);
                    if (buffer.Length > limits.MaxFileBytes) throw new TailorException(TooLarge(buffer.Length, limits));
                    bytes = buffer.ToArray();
                }
                catch (Exception e) when (e is InvalidDataException or TailorException)
                {
                    refused++;
                    lastRefusal = $"{Shown.Label(file.Entry.FullName)}: " + (e is InvalidDataException ? $"the entry is damaged ({e.Message})" : e.Message);
                }
                if (bytes is not null)
                {
                    total += bytes.Length;
                    if (total > limits.MaxTotalBytes)
                        throw new TailorException($"'{Shown.Label(shown)}' holds more than {FormatBytes(limits.MaxTotalBytes)} once uncompressed (ZipImportLimits.MaxTotalBytes), more than its directory says; the import stopped at '{Shown.Label(file.Entry.FullName)}'.");
                    try
                    {
                        var result = AddExample(project.Id, labelIds[Tailor.Spec.ClassLabels.Normalize(file.Label)], file.Set, new MemoryStream(bytes, writable: false), "import", fileName);
                        if (result.Duplicate) duplicates++; else added++;
                    }
                    catch (TailorException e) when (e is not NotFoundException)
                    {
                        refused++;
                        lastRefusal = $"{Shown.Label(file.Entry.FullName)}: {e.Message}";
                    }
                }
                done++;
                progress?.Report(new ImportProgress(done, count, added, duplicates, refused, lastRefusal));
            }
        }
        catch when (intoProjectId is null)
        {
            DeleteProject(project.Id);
            throw;
        }
        if (intoProjectId is null) FinishImport(project.Id);
        return GetProject(project.Id);
    }

    private static string TooLarge(long bytes, ZipImportLimits limits) =>
        $"it is larger than {FormatBytes(limits.MaxFileBytes)}, the most one photo may be (ZipImportLimits.MaxFileBytes; {FormatBytes(bytes)} or more).";

    private static string FormatBytes(long bytes) => bytes >= 1 << 20 ? $"{bytes / (double)(1 << 20):0.#} MiB" : $"{bytes:N0} bytes";

    private void RequireProjectExists(long projectId) => Read(() => { RequireProject(projectId, null); return 0; });

    private sealed record ZipFilePlan(ZipArchiveEntry Entry, string Label, ExampleSet Set);

    private sealed record ZipPlan(IReadOnlyList<string> Labels, IReadOnlyList<ZipFilePlan> Files, IReadOnlyList<string> Refused);

    internal static ZipArchive OpenZip(string path, string shown)
    {
        try
        {
            return ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new TailorException($"'{Shown.Label(shown)}' is not a zip archive, or it is damaged ({e.Message}).", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TailorException($"Cannot read '{Shown.Label(shown)}': {e.Message}", e);
        }
    }

    /// <summary>Checks an archive's directory and maps each photo to its label and set: limits and hostile names refuse
    /// the whole archive; a file outside any label folder is listed as refused.</summary>
    private static ZipPlan PlanZip(ZipArchive zip, string shown, ZipImportLimits limits)
    {
        int entries = zip.Entries.Count;
        if (entries > limits.MaxEntries)
            throw new TailorException($"'{Shown.Label(shown)}' has {entries:N0} entries; a zip of photos may have at most {limits.MaxEntries:N0} (ZipImportLimits.MaxEntries).");
        long total = 0;
        var files = new List<(ZipArchiveEntry Entry, string[] Segments)>();
        foreach (var entry in zip.Entries)
        {
            string full = entry.FullName;
            CheckEntryName(full, shown);
            total += entry.Length;
            if (total > limits.MaxTotalBytes)
                throw new TailorException($"'{Shown.Label(shown)}' holds more than {FormatBytes(limits.MaxTotalBytes)} once uncompressed (ZipImportLimits.MaxTotalBytes); the entries up to '{Shown.Label(full)}' already do.");
            if (entry.Length > 1 << 20 && entry.Length > (long)limits.MaxCompressionRatio * Math.Max(1, entry.CompressedLength))
                throw new TailorException($"'{Shown.Label(full)}' in '{Shown.Label(shown)}' expands {entry.Length / Math.Max(1, entry.CompressedLength):N0} times ({entry.CompressedLength:N0} → {entry.Length:N0} bytes); " +
                                     $"at most {limits.MaxCompressionRatio} times is allowed (ZipImportLimits.MaxCompressionRatio): the archive looks like a zip bomb.");
            var segments = full.Split('/', '\\', StringSplitOptions.RemoveEmptyEntries);
            if (full.EndsWith('/') || full.EndsWith('\\') || segments.Length == 0) continue;   // a folder
            if (segments.Any(s => s.StartsWith('.') || s_zipJunk.Contains(s))) continue;      // hidden files, system junk
            files.Add((entry, segments));
        }
        // One top folder around everything (photos.zip → photos/…): it is not a label.
        // It is one when every file is in it, it is not train/ or test/ itself, and below it are train/ or test/, or only folders.
        if (files.Count > 0 && files.Select(f => f.Segments[0]).Distinct().Count() == 1 && !IsSetFolder(files[0].Segments[0])
            && (files.All(f => f.Segments.Length >= 3) || files.Any(f => f.Segments.Length >= 4 && IsSetFolder(f.Segments[1]))))
            files = files.Select(f => (f.Entry, f.Segments[1..])).ToList();
        bool split = files.Any(f => f.Segments.Length >= 3 && IsSetFolder(f.Segments[0]));
        var plan = new List<ZipFilePlan>();
        var refused = new List<string>();
        foreach (var (entry, segments) in files)
        {
            if (split)
            {
                if (segments.Length >= 3 && IsSetFolder(segments[0]))
                    plan.Add(new ZipFilePlan(entry, segments[1], segments[0].Equals("test", StringComparison.OrdinalIgnoreCase) ? ExampleSet.Test : ExampleSet.Train));
                else
                    refused.Add($"{Shown.Label(entry.FullName)}: not in a label folder under train/ or test/");
            }
            else if (segments.Length >= 2)
                plan.Add(new ZipFilePlan(entry, segments[0], ExampleSet.Train));
            else
                refused.Add($"{Shown.Label(entry.FullName)}: not in a label folder (the archive holds <label>/photo, or train/<label>/… and test/<label>/…)");
        }
        if (plan.Count == 0)
            throw new TailorException($"'{Shown.Label(shown)}' holds no photo in a label folder: lay it out as <label>/photo.jpg (one folder per label), or train/<label>/… and test/<label>/….");
        var labels = plan.Select(p => Tailor.Spec.ClassLabels.Normalize(p.Label)).Distinct().Order(StringComparer.Ordinal).ToList();
        // Deterministic order: by label, then set, then name (as a folder import).
        plan = plan.OrderBy(p => Tailor.Spec.ClassLabels.Normalize(p.Label), StringComparer.Ordinal).ThenBy(p => p.Set)
            .ThenBy(p => p.Entry.FullName, StringComparer.Ordinal).ToList();
        return new ZipPlan(labels, plan, refused);
    }

    private static bool IsSetFolder(string segment) =>
        segment.Equals("train", StringComparison.OrdinalIgnoreCase) || segment.Equals("test", StringComparison.OrdinalIgnoreCase);

    /// <summary>Refuses names a hostile archive uses to write outside the folder it is extracted to (nothing is extracted
    /// here, but such an archive was not made by zipping a folder of photos).</summary>
    private static void CheckEntryName(string name, string shown)
    {
        string why = name.Contains('\0') ? "contains a NUL character"
            : name.StartsWith('/') || name.StartsWith('\\') || (name.Length >= 2 && char.IsAsciiLetter(name[0]) && name[1] == ':') ? "is an absolute path"
            : name.Split('/', '\\').Any(s => s == "..") ? "climbs out of the archive with '..'"
            : name.Any(char.IsControl) ? "contains a control character"
            : "";
        if (why.Length > 0)
            throw new TailorException($"'{Shown.Label(shown)}' has an entry whose name {why}: '{Shown.Label(name.Replace("\0", "\\0", StringComparison.Ordinal))}'. " +
                                 "A zip of photos holds <label>/photo or train/<label>/… and test/<label>/…; the archive is refused.");
    }

    /// <summary>A read-only stream that ends after <c>limit</c> bytes (disposing it disposes the inner one).</summary>
    private sealed class LimitedStream(Stream inner, long limit) : Stream
    {
        private long _read;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            long left = limit - _read;
            if (left <= 0) return 0;
            int n = inner.Read(buffer[..(int)Math.Min(buffer.Length, left)]);
            _read += n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A name usable as one zip path segment on every system: the text with path separators, reserved and
    /// control characters replaced by '_', at most <paramref name="max"/> characters, never empty, '.' or '..'.</summary>
    internal static string SafeSegment(string text, int max = 100)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (sb.Length >= max) break;
            bool bad = rune.Value < 0x20 || rune.Value == 0x7F || rune.Value is '/' or '\\' or ':' or '*' or '?' or '"' or '<' or '>' or '|';
            sb.Append(bad ? "_" : rune.ToString());
        }
        string s = sb.ToString().Trim().TrimEnd('.');
        return s.Length == 0 || s == "." || s == ".." ? "_" : s;
    }
}
