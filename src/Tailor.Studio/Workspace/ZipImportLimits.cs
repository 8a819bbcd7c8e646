namespace Tailor.Studio;

/// <summary>
/// What a zip of photos may hold before <see cref="Workspace.ImportZip"/> refuses it, checked on the archive's own
/// directory before anything is written (and the bytes actually read are counted again, since a directory can lie): a zip
/// bomb or an archive that would fill the disk is refused with the limit it exceeds and the entry that did.
/// </summary>
public sealed record ZipImportLimits
{
    /// <summary>The limits the studio uses.</summary>
    public static ZipImportLimits Default { get; } = new();

    /// <summary>Entries in the archive, folders included (default 100,000).</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>Uncompressed bytes of all the entries together (default 16 GiB).</summary>
    public long MaxTotalBytes { get; init; } = 16L << 30;

    /// <summary>Uncompressed bytes of one entry (default <see cref="Workspace.MaxUploadBytes"/>, the cap of one upload):
    /// a larger one is refused and the others go on.</summary>
    public long MaxFileBytes { get; init; } = Workspace.MaxUploadBytes;

    /// <summary>Uncompressed size over compressed size of an entry larger than 1 MiB (default 100): photos barely
    /// compress, a bomb's entries do by thousands.</summary>
    public int MaxCompressionRatio { get; init; } = 100;
}
