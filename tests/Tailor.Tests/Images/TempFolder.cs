namespace Tailor.Tests.Images;

/// <summary>A temporary folder deleted at the end of a test.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("tailor-images").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Copies the first <c>Count</c> hands training photos of each <c>Source</c> label into
    /// <c>name/Label/</c> here (the data set itself is only read) and returns <c>name</c>'s path.</summary>
    public string HandsSubset(string name, params (string Source, string Label, int Count)[] parts)
    {
        string root = System.IO.Path.Combine(Path, name);
        var hands = Tailor.Data.LabeledFolder.Scan(TestData.HandsTrain);
        foreach (var (source, label, count) in parts)
        {
            string target = Directory.CreateDirectory(System.IO.Path.Combine(root, label)).FullName;
            foreach (var e in hands.ExamplesOf(source).Take(count))
                System.IO.File.Copy(e.Path, System.IO.Path.Combine(target, System.IO.Path.GetFileName(e.Path)), overwrite: true);
        }
        return root;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
