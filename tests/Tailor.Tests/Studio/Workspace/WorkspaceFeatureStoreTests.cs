using Tailor.Studio;
using Tailor.Studio.Runs;

namespace Tailor.Tests.Studio.Workspace;

/// <summary>The workspace keeps each example's features per model prefix: a second run computes only the photos added
/// since; the rows go when no project uses their fingerprint any more.</summary>
[Trait("Category", "Slow")]
public sealed class WorkspaceFeatureStoreTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);
    private readonly WorkspaceFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private static async Task<RunStatus> RunToEnd(RunManager runs, long project, RunRequest request)
    {
        runs.Start(project, request);
        await runs.WhenEnded(project).WaitAsync(Patience);
        var status = runs.Status(project)!;
        Assert.True(status.State == RunState.Finished, $"{status.State}: {status.Message}");
        return status;
    }

    [Fact]
    public async Task SecondRun_ComputesOnlyTheNewExamplesFeatures_AndDeletingTheProjectRemovesTheRows()
    {
        var ws = _fixture.Workspace;
        var project = _fixture.NewProject();
        var labels = new[] { "✊", "✋", "✌️" }.ToDictionary(l => l, l => ws.AddLabel(project.Id, l).Id);
        void Add(string label, string set, int from, int count)
        {
            foreach (string photo in Tailor.Tests.Studio.Web.StudioServerFixture.HandPhotos(set, label).Skip(from).Take(count))
            {
                using var stream = File.OpenRead(photo);
                ws.AddExample(project.Id, labels[label], set == "train" ? ExampleSet.Train : ExampleSet.Test, stream, "upload", Path.GetFileName(photo));
            }
        }
        foreach (string label in labels.Keys)
        {
            Add(label, "train", 0, 3);
            Add(label, "test", 0, 2);
        }
        var store = ws.Features;
        using var runs = new RunManager(ws);

        await RunToEnd(runs, project.Id, new RunRequest { Head = RunHead.Knn });
        Assert.Equal(9, store.RowsWritten);
        Assert.Equal(0, store.RowsRead);

        // Two photos more: logistic regression (the same prefix and cut, the pooled features) computes those two only.
        Add("✊", "train", 3, 1);
        Add("✋", "train", 3, 1);
        await RunToEnd(runs, project.Id, new RunRequest { Head = RunHead.LogisticRegression });
        Assert.Equal(9 + 2, store.RowsWritten);
        Assert.Equal(9, store.RowsRead);

        // A network run on the classifier (augmented by default) keeps each of the 11 training photos' rows with its
        // variants' under a second fingerprint, and validates on the test set, whose six rows are computed once; the same
        // run again (the same seed) computes nothing.
        await RunToEnd(runs, project.Id, new RunRequest { Layers = RunLayers.ClassifierOnly, Epochs = 1 });
        await RunToEnd(runs, project.Id, new RunRequest { Layers = RunLayers.ClassifierOnly, Epochs = 1 });
        Assert.Equal(9 + 2 + 6 + 11, store.RowsWritten);
        Assert.Equal(9 + 6 + 11, store.RowsRead);

        string folder = Path.Combine(_fixture.Directory, "features");
        Assert.Equal(2, store.Fingerprints().Count);
        int Files(string f) => Directory.GetFiles(Path.Combine(folder, f), "*.f32", SearchOption.AllDirectories).Length;
        var fingerprint = Assert.Single(store.Fingerprints(), f => Files(f) == 17);
        Assert.Equal(11, Files(Assert.Single(store.Fingerprints(), f => f != fingerprint)));
        // Named by the image's content hash, under the fingerprint.
        var example = ws.ListExamples(project.Id, null, ExampleSet.Train, 0, 1).Items[0];
        Assert.True(File.Exists(Path.Combine(folder, fingerprint, example.Sha256[..2], example.Sha256 + ".f32")));

        // Another project on the same prefix shares the rows; they go when neither uses them.
        var other = _fixture.NewProject();
        ws.FeatureStore(other.Id)!.Write(fingerprint, Path.Combine(_fixture.Directory, "images", example.Sha256[..2], example.Sha256), new float[512]);
        ws.DeleteProject(project.Id);
        Assert.Equal([fingerprint], store.Fingerprints());
        ws.DeleteProject(other.Id);
        Assert.Empty(store.Fingerprints());
    }
}
