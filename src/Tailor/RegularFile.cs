using System.Runtime.InteropServices;

namespace Tailor;

/// <summary>
/// Tells regular files from the other things a path can name on Unix — a named pipe, a socket, a device — so that
/// only regular files are opened: opening a named pipe blocks until some process writes to it (for ever, in a data
/// folder), and a device such as /dev/zero streams without end.
/// </summary>
internal static partial class RegularFile
{
    /// <summary>
    /// What <paramref name="path"/> names when it is not a regular file — "a named pipe (FIFO)", "a character device",
    /// "a block device", "a socket" — following symbolic links (a link to a pipe is a pipe); null for a regular file, a
    /// folder, a path that does not exist (callers say so in their own words) or when the kind cannot be told.
    /// Linux asks the kernel (statx); elsewhere null, and callers refuse a 0-byte file before opening it (pipes,
    /// sockets and devices report 0 bytes), so nothing blocks there either.
    /// </summary>
    public static string? SpecialKind(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        int mode;
        try
        {
            mode = Mode(path);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;   // a libc without statx (glibc before 2.28)
        }
        return (mode & 0xF000) switch   // S_IFMT
        {
            0x1000 => "a named pipe (FIFO)",   // S_IFIFO
            0x2000 => "a character device",    // S_IFCHR
            0x6000 => "a block device",        // S_IFBLK
            0xC000 => "a socket",              // S_IFSOCK
            _ => null,                         // regular file, folder, or unknown (-1)
        };
    }

    /// <summary>Throws when <paramref name="path"/> is a named pipe, socket or device (see <see cref="SpecialKind"/>).</summary>
    /// <param name="path">The path as the user gave it.</param>
    /// <param name="expected">What was expected there, for the message: "an image file", "an ONNX model file"…</param>
    /// <exception cref="TailorException">The path names a pipe, socket or device.</exception>
    public static void Check(string path, string expected)
    {
        if (SpecialKind(path) is { } kind)
            throw new TailorException($"'{Shown.Path(path)}' is {kind}, not a regular file; {expected} was expected (only regular files are read).");
    }

    private static unsafe int Mode(string path)
    {
        // struct statx is 256 bytes on every architecture; stx_mode is the u16 at offset 28.
        const int AtFdCwd = -100, StatxType = 1, ModeOffset = 28;
        byte* buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, 0, StatxType, buffer) != 0) return -1;
        return *(ushort*)(buffer + ModeOffset);
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
