using Microsoft.Data.Sqlite;

namespace Tailor.Studio;

public sealed partial class Workspace
{
    /// <summary>The most bytes one image may have (25 MiB): a 48-megapixel phone JPEG is about 20 MiB.</summary>
    public const long MaxUploadBytes = 25L << 20;

    /// <summary>An example's original file name is kept (as text) up to this many characters.</summary>
    public const int MaxOriginalNameLength = 260;

    /// <summary>The longer side of a thumbnail, at most, in pixels.</summary>
    public const int ThumbnailSide = 256;

    private static readonly string[] s_sources = ["upload", "camera", "import", "paste"];

    /// <summary>
    /// Adds an image to a label's training or test set. The content is read up to <see cref="MaxUploadBytes"/>, checked
    /// by its first bytes (not its name: a PNG named .jpg is a PNG, a text file named .jpg is refused), its header's size
    /// checked against <see cref="Images.ImageLoader.MaxPixels"/> before any pixel is decoded, and hashed. The same bytes
    /// already in the project are reported as a duplicate and not added again. An image that does not decode is stored
    /// marked corrupt (shown, never used by a run or an evaluation). The file is stored as <c>images/ab/&lt;sha256&gt;</c>;
    /// <paramref name="originalName"/> is kept as text only.
    /// </summary>
    /// <param name="source">upload, camera, import or paste.</param>
    /// <exception cref="TailorException">No such project or label; an unknown source; too large, empty, not an image Tailor
    /// reads, or declaring too many pixels (the message names the file).</exception>
    public AddResult AddExample(long projectId, long labelId, ExampleSet set, Stream content, string source, string? originalName)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (!s_sources.Contains(source))
            throw new TailorException($"Unknown example source '{Shown.Label(source ?? "")}'; allowed: {string.Join(", ", s_sources)}.");
        if (originalName is { Length: > MaxOriginalNameLength }) originalName = originalName[..MaxOriginalNameLength];
        string shown = originalName is { Length: > 0 } ? $"'{Shown.Label(originalName)}'" : "The image";
        // The label and project must exist before anything is written.
        Read(() => { RequireLabel(projectId, labelId, null); return 0; });

        byte[] bytes = ImageStore.ReadCapped(content, MaxUploadBytes, shown);
        var header = ImageStore.ReadHeader(bytes, shown);
        string hash = ImageStore.Hash(bytes);

        // Under the lock from here on: the file, its thumbnail and the row appear together, and a concurrent delete of the
        // last example holding the same bytes cannot remove the file in between.
        return Write(transaction =>
        {
            RequireLabel(projectId, labelId, transaction);
            var again = ExamplesWhere("e.project = $p AND e.sha256 = $h", transaction, ("$p", projectId), ("$h", hash));
            if (again.Count > 0) return new AddResult(again[0], true);
            string imagePath = FullPath(ImageStore.ImagePath(hash));
            if (!File.Exists(imagePath))
            {
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(imagePath)!);
                AtomicFile.WriteAllBytes(imagePath, bytes);
            }
            string? corrupt = null;
            if (header.Width == 0 || header.Height == 0)
                corrupt = "its header cannot be read: the file looks damaged or truncated";
            else
            {
                string thumbPath = FullPath(ImageStore.ThumbPath(hash));
                try
                {
                    if (!File.Exists(thumbPath)) ImageStore.WriteThumbnail(imagePath, thumbPath, ThumbnailSide);
                }
                catch (TailorException e)
                {
                    corrupt = e.Message.Replace($"'{Shown.Path(imagePath)}'", "the image", StringComparison.Ordinal);
                }
            }
            long id = Scalar<long>(
                """
                INSERT INTO examples (project, label, example_set, sha256, format, width, height, bytes, source, original_name, corrupt, corrupt_reason, added)
                VALUES ($p, $l, $set, $h, $format, $w, $hh, $bytes, $source, $name, $corrupt, $reason, $now) RETURNING id;
                """, transaction,
                ("$p", projectId), ("$l", labelId), ("$set", SetName(set)), ("$h", hash), ("$format", header.Format), ("$w", header.Width),
                ("$hh", header.Height), ("$bytes", bytes.LongLength), ("$source", source), ("$name", originalName), ("$corrupt", corrupt is null ? 0 : 1),
                ("$reason", corrupt), ("$now", Now()));
            return new AddResult(ExamplesWhere("e.id = $id", transaction, ("$id", id))[0], false);
        });
    }

    /// <summary>A page of a project's examples, oldest first, optionally of one label and/or one set.</summary>
    /// <exception cref="TailorException">No such project; a negative offset or a limit outside 1..1000.</exception>
    public ExamplePage ListExamples(long projectId, long? labelId, ExampleSet? set, int offset, int limit)
    {
        if (offset < 0) throw new TailorException($"The offset is {offset}; it is 0 or more.");
        if (limit is < 1 or > 1000) throw new TailorException($"The limit is {limit}; it is from 1 to 1000.");
        return Read(() =>
        {
            RequireProject(projectId, null);
            string where = "e.project = $p" + (labelId is null ? "" : " AND e.label = $l") + (set is null ? "" : " AND e.example_set = $set");
            var parameters = new (string, object?)[] { ("$p", projectId), ("$l", labelId), ("$set", set is { } s ? SetName(s) : null) };
            int total = Scalar<int>($"SELECT count(*) FROM examples e WHERE {where};", null, parameters);
            var items = ExamplesWhere($"{where} ORDER BY e.id LIMIT {limit} OFFSET {offset}", null, parameters);
            return new ExamplePage(total, items);
        });
    }

    /// <summary>One example.</summary>
    /// <exception cref="TailorException">No example has this id.</exception>
    public ExampleInfo GetExample(long exampleId) => Read(() =>
        ExamplesWhere("e.id = $id", null, ("$id", exampleId)).FirstOrDefault()
        ?? throw new NotFoundException($"There is no example {exampleId} in this workspace."));

    /// <summary>Moves an example to another label of the same project and/or to the other set.</summary>
    /// <exception cref="TailorException">No such project, example or label (the label must be the project's).</exception>
    public ExampleInfo MoveExample(long projectId, long exampleId, long? newLabelId, ExampleSet? newSet) => Write(transaction =>
    {
        RequireExample(projectId, exampleId, transaction);
        if (newLabelId is { } label)
        {
            RequireLabel(projectId, label, transaction);
            Execute("UPDATE examples SET label = $l WHERE id = $e;", transaction, ("$l", label), ("$e", exampleId));
        }
        if (newSet is { } set)
            Execute("UPDATE examples SET example_set = $s WHERE id = $e;", transaction, ("$s", SetName(set)), ("$e", exampleId));
        return ExamplesWhere("e.id = $id", transaction, ("$id", exampleId))[0];
    });

    /// <summary>Deletes an example (its image file goes when no example holds it any more).</summary>
    /// <exception cref="TailorException">No such project or example.</exception>
    public void DeleteExample(long projectId, long exampleId)
    {
        string hash = Write(transaction =>
        {
            RequireExample(projectId, exampleId, transaction);
            string hash = Scalar<string>("SELECT sha256 FROM examples WHERE id = $e;", transaction, ("$e", exampleId));
            Execute("DELETE FROM examples WHERE id = $e;", transaction, ("$e", exampleId));
            return hash;
        });
        RemoveImageIfUnused(hash);
    }

    /// <summary>The stored image of an example, as it was added, and its content type (from its content).</summary>
    /// <exception cref="TailorException">No example has this id, or its file is gone.</exception>
    public (Stream Content, string ContentType) OpenImage(long exampleId)
    {
        var (hash, format) = Read(() => Query("SELECT sha256, format FROM examples WHERE id = $id;", r => (r.GetString(0), r.GetString(1)), null, ("$id", exampleId))
            .DefaultIfEmpty((null!, null!)).First());
        if (hash is null) throw new NotFoundException($"There is no example {exampleId} in this workspace.");
        return (OpenStored(ImageStore.ImagePath(hash), exampleId), ImageStore.ContentTypeOf(format));
    }

    /// <summary>The example's thumbnail (JPEG, at most <see cref="ThumbnailSide"/> pixels a side), or a placeholder
    /// picture (SVG) for a corrupt image.</summary>
    /// <exception cref="TailorException">No example has this id.</exception>
    public (Stream Content, string ContentType) OpenThumbnail(long exampleId)
    {
        var example = GetExample(exampleId);
        if (example.Corrupt) return (new MemoryStream(ImageStore.CorruptThumbnail, writable: false), "image/svg+xml");
        string thumb = ImageStore.ThumbPath(example.Sha256);
        if (!File.Exists(FullPath(thumb)))
        {
            try { ImageStore.WriteThumbnail(FullPath(ImageStore.ImagePath(example.Sha256)), FullPath(thumb), ThumbnailSide); }
            catch (TailorException) { return (new MemoryStream(ImageStore.CorruptThumbnail, writable: false), "image/svg+xml"); }
        }
        return (OpenStored(thumb, exampleId), "image/jpeg");
    }

    private Stream OpenStored(string relative, long exampleId)
    {
        try { return new FileStream(FullPath(relative), FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TailorException($"The file of example {exampleId} cannot be read: {e.Message}", e);
        }
    }

    private void RemoveImageIfUnused(string hash)
    {
        lock (_gate)
        {
            if (_disposed || Scalar<long>("SELECT count(*) FROM examples WHERE sha256 = $h;", null, ("$h", hash)) > 0) return;
            TryDelete(FullPath(ImageStore.ImagePath(hash)));
            TryDelete(FullPath(ImageStore.ThumbPath(hash)));
        }
    }

    private void RequireLabel(long projectId, long labelId, SqliteTransaction? transaction)
    {
        string project = ProjectName(projectId, transaction);
        if (Scalar<long>("SELECT count(*) FROM labels WHERE id = $l AND project = $p;", transaction, ("$l", labelId), ("$p", projectId)) == 0)
            throw new NotFoundException($"Project '{Shown.Label(project)}' has no label {labelId}.");
    }

    private void RequireExample(long projectId, long exampleId, SqliteTransaction? transaction)
    {
        string project = ProjectName(projectId, transaction);
        if (Scalar<long>("SELECT count(*) FROM examples WHERE id = $e AND project = $p;", transaction, ("$e", exampleId), ("$p", projectId)) == 0)
            throw new NotFoundException($"Project '{Shown.Label(project)}' has no example {exampleId}.");
    }

    private List<ExampleInfo> ExamplesWhere(string where, SqliteTransaction? transaction, params (string, object?)[] parameters) => Query(
        $"""
        SELECT e.id, e.label, l.name, e.example_set, e.sha256, e.width, e.height, e.bytes, e.source, e.original_name, e.corrupt, e.corrupt_reason, e.added
        FROM examples e JOIN labels l ON l.id = e.label WHERE {where};
        """,
        r => new ExampleInfo(r.GetInt64(0), r.GetInt64(1), r.GetString(2), ParseSet(r.GetString(3)), r.GetString(4), r.GetInt32(5), r.GetInt32(6),
            r.GetInt64(7), r.GetString(8), NullableString(r, 9), r.GetInt64(10) != 0, NullableString(r, 11), Time(r.GetString(12))),
        transaction, parameters);
}
