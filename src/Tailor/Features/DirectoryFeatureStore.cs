using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Tailor.Features;

/// <summary>
/// An <see cref="IFeatureStore"/> in a folder: one file per row, <c>&lt;fingerprint&gt;/ab/&lt;key&gt;.f32</c>, holding the
/// row's length, its floats and their SHA-256 — a short or damaged file is not trusted (the row is computed again). The
/// folder is bounded: a row that would take it past <see cref="MaxBytes"/> first removes the rows of other fingerprints
/// (least recently written first), and is dropped if that is not enough.
/// </summary>
/// <remarks>Thread-safe. A row is written to a temporary file moved into place, so a reader never sees half a row; it is
/// not flushed to disk (a row lost or torn by a power cut fails its checksum and is computed again).</remarks>
public sealed partial class DirectoryFeatureStore : IFeatureStore
{
    private const int HeaderBytes = 8, HashBytes = 32;
    private static readonly byte[] s_magic = "TFR1"u8.ToArray();

    private readonly Func<string, string> _imageKey;
    private readonly object _gate = new();
    private long _bytes = -1;
    private long _rowsRead, _rowsWritten;

    /// <summary>A store in <paramref name="directory"/> (created when needed).</summary>
    /// <param name="directory">The folder; nothing else should be kept there.</param>
    /// <param name="maxBytes">The most bytes its rows may take. Default 2 GiB.</param>
    /// <param name="imageKey">What identifies an image's content, from its path. Default: the SHA-256 of the file's bytes
    /// (a photo changed in place is not mistaken for the old one). A caller whose paths already name their content (such
    /// as the studio's <c>images/ab/&lt;sha256&gt;</c>) passes the file name, saving a read of each image.</param>
    /// <exception cref="TailorException">The folder cannot be created.</exception>
    public DirectoryFeatureStore(string directory, long maxBytes = 2L << 30, Func<string, string>? imageKey = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        Directory = Path.GetFullPath(directory);
        MaxBytes = maxBytes;
        _imageKey = imageKey ?? ContentKey;
        try { System.IO.Directory.CreateDirectory(Directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TailorException($"Cannot create the feature store folder '{Shown.Path(Directory)}': {e.Message}", e);
        }
    }

    /// <summary>The folder (full path).</summary>
    public string Directory { get; }

    /// <summary>The most bytes the rows may take.</summary>
    public long MaxBytes { get; }

    /// <summary>Rows given back by <see cref="TryRead"/> since this object was made.</summary>
    public long RowsRead => Interlocked.Read(ref _rowsRead);

    /// <summary>Rows kept by <see cref="Write"/> since this object was made.</summary>
    public long RowsWritten => Interlocked.Read(ref _rowsWritten);

    /// <summary>Bytes the rows take now.</summary>
    public long Bytes
    {
        get { lock (_gate) return CountedBytes(); }
    }

    /// <inheritdoc/>
    public bool TryRead(string fingerprint, string imagePath, Span<float> row)
    {
        string? path = RowPath(fingerprint, imagePath);
        if (path is null) return false;
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length != FileBytes(row.Length)) return false;
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        if (bytes.Length != FileBytes(row.Length) || !bytes.AsSpan(0, 4).SequenceEqual(s_magic)
            || BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)) != row.Length) return false;
        var floats = bytes.AsSpan(HeaderBytes, row.Length * sizeof(float));
        Span<byte> hash = stackalloc byte[HashBytes];
        SHA256.HashData(floats, hash);
        if (!hash.SequenceEqual(bytes.AsSpan(HeaderBytes + floats.Length))) return false;
        MemoryMarshal.Cast<byte, float>(floats).CopyTo(row);
        Interlocked.Increment(ref _rowsRead);
        return true;
    }

    /// <inheritdoc/>
    public void Write(string fingerprint, string imagePath, ReadOnlySpan<float> row)
    {
        string? path = RowPath(fingerprint, imagePath);
        if (path is null) return;
        long size = FileBytes(row.Length);
        var bytes = new byte[size];
        s_magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), row.Length);
        var floats = MemoryMarshal.AsBytes(row);
        floats.CopyTo(bytes.AsSpan(HeaderBytes));
        SHA256.HashData(floats, bytes.AsSpan(HeaderBytes + floats.Length));
        lock (_gate)
        {
            long before = File.Exists(path) ? new FileInfo(path).Length : 0;
            if (CountedBytes() - before + size > MaxBytes && !MakeRoom(fingerprint, size - before)) return;
            string temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
            try
            {
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllBytes(temp, bytes);
                File.Move(temp, path, overwrite: true);
                _bytes += size - before;
                _rowsWritten++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A full disk or a read-only folder: the row is computed again next time.
                try { File.Delete(temp); } catch (Exception d) when (d is IOException or UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>The fingerprints the folder holds rows of.</summary>
    public IReadOnlyList<string> Fingerprints()
    {
        lock (_gate)
            return [.. System.IO.Directory.EnumerateDirectories(Directory).Select(d => Path.GetFileName(d)).Where(n => Hex().IsMatch(n)).Order()];
    }

    /// <summary>Removes the rows of <paramref name="fingerprint"/> (nothing when there are none).</summary>
    public void Delete(string fingerprint)
    {
        if (!Hex().IsMatch(fingerprint)) return;
        lock (_gate)
        {
            string folder = Path.Combine(Directory, fingerprint);
            try { if (System.IO.Directory.Exists(folder)) System.IO.Directory.Delete(folder, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            _bytes = -1;
        }
    }

    private static long FileBytes(int floats) => HeaderBytes + (long)floats * sizeof(float) + HashBytes;

    private string? RowPath(string fingerprint, string imagePath)
    {
        if (!Hex().IsMatch(fingerprint)) return null;
        string key;
        try { key = _imageKey(imagePath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // Only hex digits ever name a file: a key that is not a hex digest is hashed.
        if (!Hex().IsMatch(key)) key = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));
        return Path.Combine(Directory, fingerprint, key[..2], key + ".f32");
    }

    private static string ContentKey(string imagePath)
    {
        using var stream = new FileStream(imagePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Bytes of all rows (counted from the folder once, then kept up to date).</summary>
    private long CountedBytes()
    {
        if (_bytes < 0)
            _bytes = System.IO.Directory.EnumerateFiles(Directory, "*.f32", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        return _bytes;
    }

    /// <summary>Removes other fingerprints' rows, least recently written first, until <paramref name="needed"/> more bytes
    /// fit; false when they do not even then.</summary>
    private bool MakeRoom(string keep, long needed)
    {
        var others = System.IO.Directory.EnumerateDirectories(Directory)
            .Where(d => Hex().IsMatch(Path.GetFileName(d)) && Path.GetFileName(d) != keep)
            .OrderBy(d => LastWrite(d)).ToList();
        foreach (string folder in others)
        {
            if (CountedBytes() + needed <= MaxBytes) break;
            try { System.IO.Directory.Delete(folder, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            _bytes = -1;
        }
        return CountedBytes() + needed <= MaxBytes;
    }

    private static DateTime LastWrite(string folder) =>
        System.IO.Directory.EnumerateFiles(folder, "*.f32", SearchOption.AllDirectories).Select(File.GetLastWriteTimeUtc).DefaultIfEmpty(DateTime.MinValue).Max();

    [GeneratedRegex("^[0-9a-f]{16,128}$")]
    private static partial Regex Hex();
}
