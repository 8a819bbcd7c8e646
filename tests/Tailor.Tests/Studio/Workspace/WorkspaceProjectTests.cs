using Tailor.Building;
using Tailor.Onnx;
using Tailor.Spec;
using Tailor.Studio;
using Tailor.Tests.Building;

namespace Tailor.Tests.Studio.Workspace;

/// <summary>Projects from an uploaded ONNX base (copied into the workspace, its labels taken), deleted with their files;
/// a folder of label folders imported all as training examples.</summary>
public sealed class WorkspaceProjectTests : IDisposable
{
    private readonly TempWorkspaceFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void FromAnUploadedOnnx_PreparesWithTheOptions_CopiesTheBase_AndDeleteRemovesEveryFile()
    {
        string upload = _dir.Sub("upload.onnx");
        OnnxModelFile.Write(ExpandAndErrorTests.TinyClassifier(), upload);
        using var ws = Tailor.Studio.Workspace.Open(_dir.Sub("ws"));
        var project = ws.CreateProject("tiny", ProjectBase.FromOnnx(upload, new PrepareOptions
        {
            FeatureOutput = "f", Capacity = 4, Labels = ["x"], Preprocessing = new ImagePreprocessing { Scale = 1 / 255f },
        }, "my model.onnx"));

        Assert.Equal(("tiny", "my model.onnx", 4, 3), (project.Name, project.BaseDescription, project.Capacity, project.FreeSlots));
        var label = Assert.Single(project.Labels);
        Assert.Equal(("x", 0), (label.Name, label.Slot));
        Assert.Equal(File.ReadAllBytes(upload), File.ReadAllBytes(_dir.Sub($"ws/bases/{project.Id}.onnx")));
        var model = ws.LoadModel(project.Id);
        Assert.Equal(new long[] { 4, 4 }, model.GetParameterShape("classifier.weight"));
        var reset = ws.ResetToEmpty(project.Id);
        Assert.True(reset.IsCurrent);
        var photo = Directory.GetFiles(Path.Combine(TestData.HandsTrain, "✊"))[0];
        using (var stream = File.OpenRead(photo))
            ws.AddExample(project.Id, label.Id, ExampleSet.Train, stream, "upload", "a.jpg");
        Assert.Equal(2, Directory.GetFiles(_dir.Sub("ws/models")).Length);

        ws.DeleteProject(project.Id);

        Assert.Empty(ws.ListProjects());
        Assert.Empty(Directory.GetFiles(_dir.Sub("ws/models")));
        Assert.Empty(Directory.GetFiles(_dir.Sub("ws/bases")));
        Assert.Empty(Directory.GetFiles(_dir.Sub("ws/images"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(_dir.Sub("ws/thumbs"), "*", SearchOption.AllDirectories));
        Assert.Contains($"no project {project.Id}", Assert.Throws<NotFoundException>(() => ws.GetProject(project.Id)).Message);
    }

    [Fact]
    public void ImportOfLabelFolders_PutsEveryImageInTheTrainingSet_AndReportsRefusedFiles()
    {
        string root = _dir.Sub("mine");
        foreach (string label in new[] { "✊", "✋" })
        {
            Directory.CreateDirectory(Path.Combine(root, label));
            foreach (string photo in Directory.GetFiles(Path.Combine(TestData.HandsTest, label)).Take(2))
                File.Copy(photo, Path.Combine(root, label, Path.GetFileName(photo)));
        }
        File.WriteAllText(Path.Combine(root, "✋", "notes.jpg"), "not a picture");
        using var ws = Tailor.Studio.Workspace.Open(_dir.Sub("ws2"));
        var reports = new List<ImportProgress>();
        var project = ws.ImportFolder(root, "my hands", new SyncProgress<ImportProgress>(reports.Add), CancellationToken.None);

        Assert.Equal("my hands", project.Name);
        Assert.Equal([(2, 0), (2, 0)], project.Labels.Select(l => (l.TrainCount, l.TestCount)));
        Assert.Equal((5, 5, 4, 1), (reports[^1].Done, reports[^1].Total, reports[^1].Added, reports[^1].Refused));
        Assert.Contains("notes.jpg", reports[^1].LastRefusal);
        Assert.Contains("content", reports[^1].LastRefusal);
        Assert.Equal(TrainingDefaults.Capacity, project.Capacity);
    }
}
