namespace Tailor;

/// <summary>
/// Writes files so that a crash at any instant leaves either the previous version or the new one, never
/// a half-written file: the content goes to a temporary file in the same folder (same file system, so the
/// move is atomic), is flushed to disk, and is then moved over the destination.
/// A write also removes the temporary files earlier writes of the same destination left when their process was
/// killed (those whose process no longer runs), so they never pile up; a process that ends while writing (SIGTERM,
/// Ctrl+C, Environment.Exit) removes its own temporary files as it exits.
/// </summary>
public static class AtomicFile
{
    /// <summary>Temporary files being written now, removed if the process exits before they are moved into place.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> s_inFlight = new();

    static AtomicFile()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (string temp in s_inFlight.Keys) TryDelete(temp);
        };
    }

    /// <summary>Writes <paramref name="write"/>'s output to <paramref name="path"/> atomically.</summary>
    /// <exception cref="TailorException">The folder does not exist or cannot be written.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir))
            throw new TailorException($"Cannot write '{path}': the folder '{dir}' does not exist.");
        RemoveStaleTempFiles(dir, Path.GetFileName(full));
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        s_inFlight[temp] = 0;
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // Permission, a full disk, the destination replaced by a folder meanwhile: the previous version stays.
            TryDelete(temp);
            throw new TailorException($"Cannot write '{path}': {e.Message}", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        finally
        {
            s_inFlight.TryRemove(temp, out _);
        }
    }

    /// <summary>Writes bytes atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    /// <summary>Writes UTF-8 text atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), leaveOpen: true); w.Write(text); });

    /// <summary>
    /// Removes the temporary files <c>.NAME.PID.GUID.tmp</c> that writes of <paramref name="name"/> left behind
    /// when their process was killed. Only files whose process is known not to run are removed: never this
    /// process's (another thread may be writing) nor a live process's (another writer of the same target).
    /// </summary>
    private static void RemoveStaleTempFiles(string dir, string name)
    {
        string prefix = "." + name + ".";
        try
        {
            foreach (string file in Directory.EnumerateFiles(dir, ".*.tmp"))
            {
                string fileName = Path.GetFileName(file);
                if (!fileName.StartsWith(prefix, StringComparison.Ordinal)) continue;
                // What follows the prefix is exactly "PID.GUID.tmp" (GUID: 32 hex digits).
                string rest = fileName[prefix.Length..^".tmp".Length];
                int dot = rest.IndexOf('.');
                if (dot < 1 || rest.Length - dot - 1 != 32 || !Guid.TryParseExact(rest[(dot + 1)..], "N", out _)) continue;
                if (!int.TryParse(rest.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid)) continue;
                if (pid == Environment.ProcessId || !IsKnownDead(pid)) continue;
                TryDelete(file);
            }
        }
        catch (IOException) { }   // cleaning up is best effort: the write itself goes on
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>True only when process <paramref name="pid"/> is certainly not running (when unsure: false).</summary>
    private static bool IsKnownDead(int pid)
    {
        if (OperatingSystem.IsLinux())
            return Directory.Exists("/proc/self") && !Directory.Exists($"/proc/{pid}");
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException) { return true; }   // no process has this id
        catch (InvalidOperationException) { return false; }
        catch (PlatformNotSupportedException) { return false; }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
