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
}
