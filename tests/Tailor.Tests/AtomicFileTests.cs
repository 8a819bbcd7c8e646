namespace Tailor.Tests;

public class AtomicFileTests
{
    [Fact]
    public void FailedWrite_KeepsPreviousVersion_AndLeavesNoTempFile()
    {
        string dir = Directory.CreateTempSubdirectory("tailor-atomic").FullName;
        string path = Path.Combine(dir, "model.onnx");
        File.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("new, half"u8);
            throw new InvalidOperationException("crash mid-write");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir));
    }

    [Fact]
    public void MissingFolder_NamesTheFolder()
    {
        var e = Assert.Throws<TailorException>(() => AtomicFile.WriteAllText("/nonexistent-tailor-dir/x.json", "{}"));
        Assert.Contains("/nonexistent-tailor-dir", e.Message);
    }
    [Fact]
    public void Write_RemovesTempFilesOfADeadWriter_AndKeepsThoseOfLiveOnes()
    {
        string dir = Directory.CreateTempSubdirectory("tailor-atomic").FullName;
        string path = Path.Combine(dir, "model.onnx");
        int dead = DeadProcessId();
        string Temp(int pid, string name = "model.onnx") => Path.Combine(dir, $".{name}.{pid}.{Guid.NewGuid():N}.tmp");
        string stale = Temp(dead), live = Temp(Environment.ProcessId), other = Temp(dead, "other.onnx");
        string parent = Temp(Environment.ProcessId == 1 ? 2 : 1);   // pid 1 always runs
        foreach (var f in new[] { stale, live, other, parent }) File.WriteAllText(f, "half-written");

        AtomicFile.WriteAllText(path, "new");

        Assert.Equal("new", File.ReadAllText(path));
        Assert.False(File.Exists(stale), "the temp file of a dead writer of the same target is removed");
        Assert.True(File.Exists(live), "this process's temp file (another thread may be writing) is kept");
        Assert.True(File.Exists(parent), "a live process's temp file is kept");
        Assert.True(File.Exists(other), "another target's temp files are left alone");
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>The id of a process that has exited (and whose id no process has taken since).</summary>
    private static int DeadProcessId()
    {
        for (int attempt = 0; attempt < 10; attempt++)
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("true") { UseShellExecute = false })!;
            p.WaitForExit();
            if (!IsRunning(p.Id)) return p.Id;
        }
        throw new InvalidOperationException("no exited process id found");
    }

    private static bool IsRunning(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }
}
