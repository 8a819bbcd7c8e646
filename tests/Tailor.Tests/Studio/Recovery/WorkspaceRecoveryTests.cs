using Tailor.Studio.Runs;
using Tailor.Tests.Studio.Workspace;
using Tailor.Training;
using StudioWorkspace = Tailor.Studio.Workspace;

namespace Tailor.Tests.Studio.Recovery;

/// <summary>What <see cref="StudioWorkspace.Open"/> does with what a killed process left: files no row references are
/// swept, runs left running are interrupted (network runs resumable on the model they began from, the others run again).</summary>
[Trait("Category", "Slow")]
public sealed class WorkspaceRecoveryTests : IDisposable
{
    private readonly TempWorkspaceFolder _dir = new();
    private readonly string _folder;
    private readonly long _project;

    public WorkspaceRecoveryTests()
    {
        _folder = _dir.Sub("ws");
        using var ws = StudioWorkspace.Open(_folder);
        _project = ws.ImportFolder(TestData.Hands, "hands", null, CancellationToken.None).Id;
    }

    public void Dispose() => _dir.Dispose();

    private string File(params string[] parts) => Path.Combine([_folder, .. parts]);

    private static void Plant(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, [1, 2, 3]);
    }

    [Fact]
    public void Open_SweepsWhatAKillLeaves_AndKeepsEverythingReferenced()
    {
        string orphan = new('f', 64);
        var planted = new[]
        {
            File("images", "ff", orphan),                                   // an upload killed after its file, before its row
            File("thumbs", "ff", orphan + ".jpg"),
            File("models", "999.onnx"),                                     // a model write killed before its version's row
            File("bases", "77.onnx"),                                       // the uploaded base of a project never recorded
            File("images", "ab", $".{orphan}.4242.0123456789abcdef.tmp"),   // atomic writes killed before their move
            File("models", ".5.onnx.4242.0123456789abcdef.tmp"),
            File(".workspace.owner.4242.0123456789abcdef.tmp"),
            File("checkpoints", "31.ckpt"),                                 // a checkpoint of a run that is not interrupted
        };
        foreach (var path in planted) Plant(path);
        string kept = File("notes.txt");   // not a name the workspace gives: never touched
        Plant(kept);

        using var ws = StudioWorkspace.Open(_folder);

        foreach (var path in planted) Assert.False(System.IO.File.Exists(path), $"{path} was not swept");
        Assert.True(System.IO.File.Exists(kept));
        Assert.Equal(new Tailor.Studio.SweepReport(Images: 1, Thumbnails: 1, Models: 2, TemporaryFiles: 3, Checkpoints: 1), ws.LastSweep);
        var examples = ws.ListExamples(_project, null, null, 0, 1000);
        Assert.Equal(45, examples.Total);
        foreach (var e in examples.Items)
        {
            Assert.True(System.IO.File.Exists(File("images", e.Sha256[..2], e.Sha256)));
            Assert.True(System.IO.File.Exists(File("thumbs", e.Sha256[..2], e.Sha256 + ".jpg")));
        }
        Assert.NotNull(ws.LoadModel(_project));
    }

    /// <summary>A kill during an import that makes a new project: the workspace as the kill leaves it is copied from inside
    /// the import (after its 10th photo: the database with its write-ahead log, the images, the models — everything but the
    /// lock, which a kill releases). Opening the copy deletes the half-imported project with its photos; the import that
    /// went on to its end keeps its project across Open.</summary>
    [Fact]
    public void AProjectAnImportWasMaking_WhenKilled_IsDeletedAtOpen_WithItsPhotos_AndAFinishedImportStays()
    {
        string folder = _dir.Sub("importing"), killed = _dir.Sub("killed");
        long finished;
        using (var ws = StudioWorkspace.Open(folder))
        {
            var progress = new Synchronous(p => { if (p.Done == 10) CopyWorkspace(folder, killed); });
            finished = ws.ImportFolder(TestData.Hands, "hands", progress, CancellationToken.None).Id;
        }
        Assert.True(Directory.EnumerateFiles(Path.Combine(killed, "images"), "*", SearchOption.AllDirectories).Count() >= 9,
            "the copy holds the photos imported before the kill");

        using (var ws = StudioWorkspace.Open(killed))
        {
            Assert.Equal(1, ws.LastSweep.InterruptedImports);
            Assert.Empty(ws.ListProjects());
            foreach (string sub in new[] { "images", "thumbs", "models", "bases" })
                Assert.Empty(Directory.EnumerateFiles(Path.Combine(killed, sub), "*", SearchOption.AllDirectories));
        }
        using (var ws = StudioWorkspace.Open(folder))
        {
            Assert.Equal(0, ws.LastSweep.InterruptedImports);
            Assert.Equal(finished, ws.ListProjects().Single().Id);
            Assert.Equal(45, ws.ListExamples(finished, null, null, 0, 1000).Total);
        }
    }

    private static void CopyWorkspace(string from, string to)
    {
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string name = Path.GetFileName(file);
            if (name == "workspace.lock") continue;
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            System.IO.File.Copy(file, target);
        }
    }

    private sealed class Synchronous(Action<Tailor.Studio.ImportProgress> report) : IProgress<Tailor.Studio.ImportProgress>
    {
        public void Report(Tailor.Studio.ImportProgress value) => report(value);
    }

    [Fact]
    public void ARunLeftRunning_IsInterrupted_NetworkResumable_KnnRunAgain_AndNotOnceTheModelChanged()
    {
        long knn, network;
        using (var ws = StudioWorkspace.Open(_folder))
            knn = ws.BeginRun(_project, new RunRequest { Head = RunHead.Knn });
        using (var ws = StudioWorkspace.Open(_folder))
        {
            Assert.Equal("interrupted", ws.ListRuns(_project).Single().State);
            var run = ws.InterruptedRun(_project);
            Assert.NotNull(run);
            Assert.Equal(knn, run.RunId);
            Assert.False(run.Resumable);
            Assert.Contains("run it again", run.WhyNot);
            network = ws.BeginRun(_project, new RunRequest { Epochs = 5, Seed = 3 });
            ws.RecordEpoch(network, new EpochRecord(1, 1.0, 1.0, 0.5, 1.0, 0.5, 0.001, 1));
            ws.RecordEpoch(network, new EpochRecord(2, 0.9, 0.9, 0.6, 0.9, 0.6, 0.001, 1));
            Plant(ws.CheckpointPath(network)!);   // not a readable checkpoint: the run resumes from its beginning
        }
        using (var ws = StudioWorkspace.Open(_folder))
        {
            var run = ws.InterruptedRun(_project);
            Assert.NotNull(run);
            Assert.Equal(network, run.RunId);
            Assert.True(run.Resumable, run.WhyNot);
            Assert.Equal(0, run.EpochsDone);
            Assert.Null(run.CheckpointPath);
            Assert.Equal(5, run.Request.Epochs);
            Assert.True(System.IO.File.Exists(ws.CheckpointPath(network)), "the latest interrupted run's checkpoint is kept");

            ws.ResetToEmpty(_project);
            run = ws.InterruptedRun(_project);
            Assert.NotNull(run);
            Assert.False(run.Resumable);
            Assert.Contains("current model changed", run.WhyNot);
        }
    }

    /// <summary>An interrupted run says whether what it trains on changed since it began: a training photo added or moved
    /// to the test set, a label added (its slot is no longer masked) — but not a rename, a test photo, or nothing.</summary>
    [Fact]
    public void AnInterruptedRun_SaysWhenItsTrainingSetChanged_SinceItBegan()
    {
        bool ChangedAfter(Action<StudioWorkspace> change)
        {
            using (var ws = StudioWorkspace.Open(_folder))
            {
                ws.BeginRun(_project, new RunRequest { Epochs = 3 });
                change(ws);
            }
            using (var ws = StudioWorkspace.Open(_folder))
                return ws.InterruptedRun(_project)!.TrainingSetChanged;
        }
        long Label(StudioWorkspace ws, string name) => ws.GetProject(_project).Labels.Single(l => l.Name == name).Id;
        long Any(StudioWorkspace ws, Tailor.Studio.ExampleSet set) => ws.ListExamples(_project, Label(ws, "✋"), set, 0, 1).Items[0].Id;

        Assert.False(ChangedAfter(_ => { }));
        Assert.False(ChangedAfter(ws => ws.RenameLabel(_project, Label(ws, "✊"), "fist")));
        Assert.False(ChangedAfter(ws => ws.MoveExample(_project, Any(ws, Tailor.Studio.ExampleSet.Test), Label(ws, "fist"), null)));
        Assert.True(ChangedAfter(ws => ws.AddLabel(_project, "👍")));
        Assert.True(ChangedAfter(ws => ws.MoveExample(_project, Any(ws, Tailor.Studio.ExampleSet.Train), null, Tailor.Studio.ExampleSet.Test)));
        Assert.True(ChangedAfter(ws => ws.DeleteExample(_project, Any(ws, Tailor.Studio.ExampleSet.Train))));
    }

    [Fact]
    public void ARunThatCommittedItsModel_ButWasKilledBeforeItsEnd_IsCompleted()
    {
        using (var ws = StudioWorkspace.Open(_folder))
        {
            long run = ws.BeginRun(_project, new RunRequest { Head = RunHead.Knn });
            ws.CommitModel(_project, run, ws.LoadModel(_project));
        }
        using (var ws = StudioWorkspace.Open(_folder))
        {
            Assert.Equal("completed", ws.ListRuns(_project).Single().State);
            Assert.Null(ws.InterruptedRun(_project));
        }
    }
}
