using Tailor.Building;
using Tailor.Studio;

namespace Tailor.Tests.Studio.Workspace;

/// <summary>A temporary folder for workspaces, deleted afterwards.</summary>
internal sealed class TempWorkspaceFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("tailor-studio").FullName;

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>One open workspace and one model prepared from the embedded ResNet18 (capacity 50), shared by a test class:
/// each test makes its own project from a copy of the model (preparing takes seconds, loading a copy a fraction).</summary>
public sealed class WorkspaceFixture : IDisposable
{
    private readonly TempWorkspaceFolder _folder = new();
    private readonly string _modelPath;
    private int _projects;

    public WorkspaceFixture()
    {
        _modelPath = System.IO.Path.Combine(_folder.Path, "prepared.onnx");
        ModelBuilder.Prepare(new PrepareOptions { Capacity = Capacity }).Save(_modelPath);
        Directory = _folder.Sub("ws");
        Workspace = Tailor.Studio.Workspace.Open(Directory);
    }

    public const int Capacity = 50;

    public string Directory { get; }

    public Tailor.Studio.Workspace Workspace { get; }

    /// <summary>A new project on the shared prepared model.</summary>
    public ProjectInfo NewProject(string? name = null) =>
        Workspace.CreateProject(name ?? $"project {Interlocked.Increment(ref _projects)}", ProjectBase.EmbeddedResNet18(Capacity), UpdatableModel.Load(_modelPath));

    public void Dispose()
    {
        Workspace.Dispose();
        _folder.Dispose();
    }
}
