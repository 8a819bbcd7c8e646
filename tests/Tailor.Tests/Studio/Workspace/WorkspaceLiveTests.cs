using Tailor.Studio;

namespace Tailor.Tests.Studio.Workspace;

/// <summary>Workspace.Predict's loaded models: at most <see cref="Tailor.Studio.Workspace.MaxLivePredictors"/> projects keep
/// one, the one let go is disposed; an untrained model says so; a bad image is refused before any model is loaded.</summary>
public sealed class WorkspaceLiveTests(WorkspaceFixture fixture) : IClassFixture<WorkspaceFixture>
{
    [Fact]
    public void LoadedModels_AreBounded_TheOneLetGoIsDisposed_AndAnUntrainedModelSaysSo()
    {
        var ws = fixture.Workspace;
        var projects = Enumerable.Range(0, Tailor.Studio.Workspace.MaxLivePredictors + 1).Select(_ => fixture.NewProject()).ToList();
        int before = ws.LivePredictorsOpen;
        foreach (var project in projects)
        {
            ws.AddLabel(project.Id, "cat");
            var readiness = ws.PredictReadiness(project.Id);
            Assert.False(readiness.Ready);
            Assert.Equal(project.CurrentVersionId, readiness.VersionId);
            Assert.Empty(readiness.TrainedLabels);
            Assert.Contains($"Project '{project.Name}' has no trained label yet", readiness.Message);
            Assert.InRange(ws.LivePredictorCount, 1, Tailor.Studio.Workspace.MaxLivePredictors);
        }
        Assert.Equal(Tailor.Studio.Workspace.MaxLivePredictors, ws.LivePredictorCount);
        Assert.Equal(before + Tailor.Studio.Workspace.MaxLivePredictors, ws.LivePredictorsOpen);

        byte[] photo = File.ReadAllBytes(Directory.GetFiles(TestData.HandsTest, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First());
        var untrained = Assert.Throws<ProjectStateException>(() => ws.Predict(projects[0].Id, photo, "hand.jpg"));
        Assert.Contains("has no trained label yet", untrained.Message);
        Assert.Equal(before + Tailor.Studio.Workspace.MaxLivePredictors, ws.LivePredictorsOpen);

        var bomb = Assert.Throws<TailorException>(() => ws.Predict(projects[1].Id, Tailor.Tests.Images.TestImages.PngHeaderOnly(20_000, 20_000), "bomb.png"));
        Assert.StartsWith("'bomb.png' declares 20000×20000 pixels", bomb.Message);
        var text = Assert.Throws<TailorException>(() => ws.Predict(projects[1].Id, "not an image"u8, null));
        Assert.StartsWith("The image is not an image Tailor reads", text.Message);
    }
}
