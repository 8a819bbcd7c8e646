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
    /// <summary>The reference app's photos, read where they are (never copied into the repository).</summary>
    public static string Hands
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = System.IO.Path.Combine(dir.FullName, "shared", "datasets", "hands");
                if (System.IO.Directory.Exists(candidate)) return candidate;
                candidate = System.IO.Path.Combine(dir.FullName, "..", "shared", "datasets", "hands");
                if (System.IO.Directory.Exists(candidate)) return System.IO.Path.GetFullPath(candidate);
            }
            // A clone elsewhere (CI checks out into a temporary folder) finds the workspace's copy.
            foreach (var candidate in new[] { Environment.GetEnvironmentVariable("TAILOR_HANDS"), "/work/shared/datasets/hands" })
                if (candidate is { Length: > 0 } && System.IO.Directory.Exists(candidate)) return candidate;
            throw new InvalidOperationException("The hands data (../shared/datasets/hands) was not found above " + AppContext.BaseDirectory + "; set TAILOR_HANDS.");
        }
    }

    public static string HandsTrain => System.IO.Path.Combine(Hands, "train");

    public static string HandsTest => System.IO.Path.Combine(Hands, "test");
}
