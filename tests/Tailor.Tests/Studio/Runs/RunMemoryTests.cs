using Tailor.Onnx;
using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Tests.Studio.Workspace;

namespace Tailor.Tests.Studio.Runs;

/// <summary>Repeated runs in one studio process leave nothing behind: every ONNX Runtime session a run opens (the feature
/// extractor, the predictor that evaluates the test set) is released when it ends (that a finished run lets go of its
/// model is RunManagerTests'). Counts, not memory figures: a leak of one session per run fails here whatever the load.</summary>
[Collection("Serial")]   // the session count is process-wide: no other test opens sessions meanwhile
[Trait("Category", "Slow")]
public sealed class RunMemoryTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);
    private readonly WorkspaceFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public async Task RepeatedRuns_ReleaseEverySession()
    {
        var ws = _fixture.Workspace;
        var project = _fixture.NewProject();
        var labels = new[] { "✊", "✋", "✌️" }.ToDictionary(l => l, l => ws.AddLabel(project.Id, l).Id);
        foreach (string label in labels.Keys)
            foreach (string set in new[] { "train", "test" })
                foreach (string photo in Tailor.Tests.Studio.Web.StudioServerFixture.HandPhotos(set, label).Take(3))
                {
                    using var stream = File.OpenRead(photo);
                    ws.AddExample(project.Id, labels[label], set == "train" ? ExampleSet.Train : ExampleSet.Test, stream, "upload", Path.GetFileName(photo));
                }
        using var runs = new RunManager(ws);
        int before = OnnxSessions.OpenSessions;
        var requests = new[]
        {
            new RunRequest { Head = RunHead.LogisticRegression },
            new RunRequest { Head = RunHead.Knn },
            new RunRequest { Head = RunHead.LogisticRegression },
            new RunRequest { Layers = RunLayers.ClassifierOnly, Epochs = 1 },
            new RunRequest { Layers = RunLayers.ClassifierOnly, Epochs = 1 },
        };
        foreach (var request in requests)
        {
            runs.Start(project.Id, request);
            await runs.WhenEnded(project.Id).WaitAsync(Patience);
            var status = runs.Status(project.Id)!;
            Assert.True(status.State == RunState.Finished, $"{status.State}: {status.Message}");
            Assert.NotNull(status.Accuracy);   // the test set was evaluated (a predictor was opened, or the network validated)
            Assert.True(OnnxSessions.OpenSessions == before,
                $"After a {request.Head} run {OnnxSessions.OpenSessions - before} ONNX Runtime session(s) are still open.");
        }
        // The settings screen's spec is kept per current version, the model it was read from is not.
        var spec = ws.CurrentSpec(project.Id);
        Assert.Same(spec, ws.CurrentSpec(project.Id));
        Assert.Equal(before, OnnxSessions.OpenSessions);
    }
}
