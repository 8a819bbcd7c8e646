using Tailor.Building;

namespace Tailor.Tests;

/// <summary>One model prepared from the embedded ResNet18 (capacity 10, labels ✊ ✋ ✌️), shared by the
/// tests of a class: preparing reads a 63 MB file, so tests do it once.</summary>
public sealed class PreparedModelFixture : IDisposable
{
    public PreparedModelFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("tailor-tests").FullName;
        Path = System.IO.Path.Combine(Directory, "hands.onnx");
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"], Capacity = 10 });
        model.Save(Path);
    }

    public string Directory { get; }

    public string Path { get; }

    public UpdatableModel Load() => UpdatableModel.Load(Path);

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

public static class TestData
{
    /// <summary>The reference app's photos, read where they are (../shared beside the repository; never copied into it).</summary>
    public static string Hands => SharedData.Hands;

    public static string HandsTrain => System.IO.Path.Combine(Hands, "train");

    public static string HandsTest => System.IO.Path.Combine(Hands, "test");
}
