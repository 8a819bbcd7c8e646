using Tailor.Heads;
using Tailor.Spec;
using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Tests.Studio.Workspace;

/// <summary>The hands photos imported once (train/ and test/), shared by the class: import counts, model versions, reset,
/// commits (a failed one changes nothing), run records, and evaluation after a head trained through the library.</summary>
public sealed class ImportedHandsFixture : IDisposable
{
    private readonly TempWorkspaceFolder _folder = new();

    public ImportedHandsFixture()
    {
        Directory = _folder.Sub("ws");
        Workspace = Tailor.Studio.Workspace.Open(Directory);
        var reports = new List<ImportProgress>();
        Project = Workspace.ImportFolder(TestData.Hands, null, new SyncProgress<ImportProgress>(reports.Add), CancellationToken.None);
        Progress = reports;
    }

    public string Directory { get; }
    public Tailor.Studio.Workspace Workspace { get; }
    public ProjectInfo Project { get; }
    public IReadOnlyList<ImportProgress> Progress { get; }

    public void Dispose()
    {
        Workspace.Dispose();
        _folder.Dispose();
    }
}

/// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

[Trait("Category", "Slow")]
public sealed class WorkspaceModelTests(ImportedHandsFixture fixture) : IClassFixture<ImportedHandsFixture>
{
    private Tailor.Studio.Workspace Ws => fixture.Workspace;
    private long P => fixture.Project.Id;

    [Fact]
    public void Import_OfTheHandsFolder_GivesThreeLabels_30Train_15Test_WithTheRightCounts()
    {
        var project = Ws.GetProject(P);
        Assert.Equal("hands", project.Name);
        Assert.Equal(["✊", "✋", "✌️"], project.Labels.Select(l => l.Name).Order(StringComparer.Ordinal));
        foreach (var label in project.Labels)
        {
            Assert.Equal(System.IO.Directory.GetFiles(Path.Combine(TestData.HandsTrain, label.Name)).Length, label.TrainCount);
            Assert.Equal(System.IO.Directory.GetFiles(Path.Combine(TestData.HandsTest, label.Name)).Length, label.TestCount);
        }
        Assert.Equal(30, project.Labels.Sum(l => l.TrainCount));
        Assert.Equal(15, project.Labels.Sum(l => l.TestCount));
        Assert.Equal(project.Capacity - 3, project.FreeSlots);
        Assert.Equal(project.Labels.Select(l => l.Slot).Order(), project.Labels.Select(l => l.Slot).Distinct().Order());
        Assert.Equal(45, fixture.Progress[^1].Done);
        Assert.Equal((45, 45, 0, 0), (fixture.Progress[^1].Total, fixture.Progress[^1].Added, fixture.Progress[^1].Duplicates, fixture.Progress[^1].Refused));
        var page = Ws.ListExamples(P, null, ExampleSet.Test, 0, 100);
        Assert.Equal(15, page.Total);
        Assert.All(page.Items, e => Assert.Equal("import", e.Source));
        Assert.All(page.Items, e => Assert.EndsWith(".jpg", e.OriginalName, StringComparison.OrdinalIgnoreCase));

        var (train, test) = Ws.LoadData(P);
        Assert.Equal(30, train.Examples.Count);
        Assert.Equal(15, test!.Examples.Count);
        Assert.Equal(10, train.ExamplesOf("✌️").Count);
    }

    private (long Run, long Version) TrainKnnAndCommit(string note)
    {
        long run = Ws.BeginRun(P, new RunRequest { Head = RunHead.Knn, Epochs = 1 });
        var model = Ws.LoadCurrentModel(P);
        var (train, _) = Ws.LoadData(P);
        HeadTrainer.TrainKnn(model, train);
        long version = Ws.CommitModel(P, run, model);
        Ws.EndRun(run, TrainingState.Completed, note, version);
        return (run, version);
    }

    [Fact]
    public void LoadBaseModel_IsThePreparedModel_WithTheProjectsLabels_WhateverIsCurrent()
    {
        TrainKnnAndCommit("base model");
        Assert.Equal(HeadKind.KNearestNeighbors, Ws.LoadCurrentModel(P).Spec.Head);

        var baseModel = ((Tailor.Studio.Runs.IRunStore)Ws).LoadBaseModel(P);

        Assert.NotNull(baseModel);
        Assert.Equal(HeadKind.NeuralNetwork, baseModel.Spec.Head);
        foreach (var label in Ws.GetProject(P).Labels)
            Assert.Equal(label.Name, baseModel.Spec.Labels.Names[label.Slot]);
        Assert.Throws<NotFoundException>(() => ((Tailor.Studio.Runs.IRunStore)Ws).LoadBaseModel(987654));
    }

    [Fact]
    public void ModelVersions_BaseAtCreation_CommitMakesCurrent_MakeCurrentBack_ResetToEmpty()
    {
        var versions = Ws.ListModelVersions(P);
        var base0 = versions[0];
        Assert.Equal("base", base0.Kind);
        Assert.Null(base0.RunId);

        var (run, trained) = TrainKnnAndCommit("versions");
        versions = Ws.ListModelVersions(P);
        var committed = versions.Single(v => v.Id == trained);
        Assert.Equal(("trained", run, true), (committed.Kind, committed.RunId, committed.IsCurrent));
        Assert.Single(versions, v => v.IsCurrent);
        Assert.Equal(trained, Ws.GetProject(P).CurrentVersionId);
        Assert.Equal(HeadKind.KNearestNeighbors, UpdatableModel.Load(Ws.ModelFile(trained)).Spec.Head);
        Assert.Equal(Path.Combine(fixture.Directory, "models", $"{trained}.onnx"), Ws.ModelFile(trained));
        var runInfo = Ws.ListRuns(P).First(r => r.Id == run);
        Assert.Equal(("completed", "versions", (long?)trained, RunHead.Knn), (runInfo.State, runInfo.Reason, runInfo.ModelVersionId, runInfo.Request.Head));

        var back = Ws.MakeCurrent(P, base0.Id);
        Assert.True(back.IsCurrent);
        Assert.Equal(base0.Id, Ws.GetProject(P).CurrentVersionId);
        Assert.Equal(HeadKind.NeuralNetwork, Ws.LoadCurrentModel(P).Spec.Head);
        Assert.Empty(Ws.PriorEpochs(P));

        Ws.MakeCurrent(P, trained);
        var reset = Ws.ResetToEmpty(P);   // a k-NN is reset from the base version
        Assert.Equal(("reset", true), (reset.Kind, reset.IsCurrent));
        var model = Ws.LoadModel(P);
        Assert.Equal(HeadKind.NeuralNetwork, model.Spec.Head);
        foreach (var label in Ws.GetProject(P).Labels) Assert.Equal(label.Name, model.Spec.Labels.Names[label.Slot]);
        Assert.Equal(UpdatableModel.Load(Ws.ModelFile(base0.Id)).GetParameter("classifier.weight"), model.GetParameter("classifier.weight"));

        var e = Assert.Throws<NotFoundException>(() => Ws.MakeCurrent(P, 987654));
        Assert.Contains("has no model version 987654", e.Message);
    }

    [Fact]
    public void AFailedCommit_LeavesThePreviousCurrentVersionCurrent_AndNoFile()
    {
        long current = Ws.GetProject(P).CurrentVersionId!.Value;
        int count = Ws.ListModelVersions(P).Count;
        var files = System.IO.Directory.GetFiles(Path.Combine(fixture.Directory, "models")).Order().ToArray();
        long run = Ws.BeginRun(P, new RunRequest());
        var model = Ws.LoadCurrentModel(P);
        Ws.AfterModelFileWritten = _ => throw new IOException("disk full (simulated)");
        try
        {
            Assert.Throws<IOException>(() => Ws.CommitModel(P, run, model));
        }
        finally
        {
            Ws.AfterModelFileWritten = null;
        }
        Assert.Equal(current, Ws.GetProject(P).CurrentVersionId);
        Assert.Equal(count, Ws.ListModelVersions(P).Count);
        Assert.Equal(files, System.IO.Directory.GetFiles(Path.Combine(fixture.Directory, "models")).Order().ToArray());
        Assert.Null(Ws.ListRuns(P).First(r => r.Id == run).ModelVersionId);
    }

    [Fact]
    public void Epochs_AccumulateOverCommittedRuns_UntilResetOrMakeCurrent()
    {
        var before = Ws.ListModelVersions(P)[0];
        Ws.MakeCurrent(P, before.Id);
        long first = Ws.BeginRun(P, new RunRequest { Epochs = 2 });
        Ws.RecordEpoch(first, new EpochRecord(1, 1.0, 0.9, 0.5, 0.8, 0.6, 0.01, 1));
        Ws.RecordEpoch(first, new EpochRecord(2, double.NaN, 0.7, 0.6, null, null, 0.01, 1));
        long version = Ws.CommitModel(P, first, Ws.LoadCurrentModel(P));
        Ws.EndRun(first, TrainingState.Cancelled, "stopped", version);
        long failed = Ws.BeginRun(P, new RunRequest());
        Ws.RecordEpoch(failed, new EpochRecord(3, 0.5, 0.5, 0.7, 0.5, 0.7, 0.01, 1));
        Ws.EndRun(failed, TrainingState.Failed, "boom", null);

        var prior = Ws.PriorEpochs(P);
        Assert.Equal([1, 2], prior.Select(e => e.Epoch));
        Assert.True(double.IsNaN(prior[1].TrainLossMean));
        Assert.Null(prior[1].ValidationLoss);
        Assert.Equal(0.6, prior[0].ValidationAccuracy);
        Assert.Equal("failed", Ws.ListRuns(P).First(r => r.Id == failed).State);

        Ws.MakeCurrent(P, before.Id);
        Assert.Empty(Ws.PriorEpochs(P));
    }

    [Fact]
    public void Evaluate_AfterAKnnTrainedThroughTheLibrary_Gives15Rows_WrongFirst_AndConfusionCellsOfAllExamples()
    {
        var (_, version) = TrainKnnAndCommit("evaluate");
        var view = Ws.Evaluate(P, version);

        Assert.Equal(version, view.VersionId);
        Assert.Equal(15, view.Count);
        Assert.Equal(15, view.Rows.Count);
        var testIds = Ws.ListExamples(P, null, ExampleSet.Test, 0, 100).Items.Select(e => e.Id).Order().ToArray();
        Assert.Equal(testIds, view.Rows.Select(r => r.ExampleId).Order());
        Assert.Equal(testIds, view.Confusion.SelectMany(row => row).SelectMany(c => c.ExampleIds).Order());
        Assert.Equal(15, view.Confusion.Sum(row => row.Sum(c => c.Count)));
        // Wrong ones first, then by the true label's probability, ascending.
        int wrong = view.Rows.Count(r => !r.Correct);
        Assert.All(view.Rows.Take(wrong), r => Assert.False(r.Correct));
        Assert.All(view.Rows.Skip(wrong), r => Assert.True(r.Correct));
        for (int i = wrong + 1; i < view.Rows.Count; i++) Assert.True(view.Rows[i - 1].TrueLabelProbability <= view.Rows[i].TrueLabelProbability);
        Assert.Equal(15 - wrong, view.Confusion.Select((row, i) => row[i].Count).Sum());
        Assert.Equal((15.0 - wrong) / 15, view.Accuracy, 9);
        Assert.True(view.Accuracy >= 0.8, $"k-NN accuracy {view.Accuracy}");
        Assert.Equal(3, view.PerLabel.Count);
        Assert.All(view.PerLabel, l => Assert.Equal(5, l.Count));
        Assert.Empty(view.Skipped);
        foreach (var row in view.Rows)
        {
            var example = Ws.GetExample(row.ExampleId);
            Assert.Equal(example.Label, row.TrueLabel);
            Assert.Contains(row.PredictedLabel, view.ConfusionLabels);
            Assert.Contains(row.ExampleId, view.Confusion[view.ConfusionLabels.ToList().IndexOf(row.TrueLabel)][view.ConfusionLabels.ToList().IndexOf(row.PredictedLabel)].ExampleIds);
        }
        // Stored as the version's evaluation.
        Assert.Equal(view.Accuracy, Ws.ListModelVersions(P).Single(v => v.Id == version).Accuracy);
        var stored = Ws.StoredEvaluation(P, version)!;
        Assert.Equal(view.Rows, stored.Rows);
        Assert.Equal(view.Confusion.SelectMany(r => r).SelectMany(c => c.ExampleIds), stored.Confusion.SelectMany(r => r).SelectMany(c => c.ExampleIds));
        Assert.Null(Ws.StoredEvaluation(P, Ws.ListModelVersions(P)[0].Id));
    }

    [Fact]
    public void ANetworkTrainedThroughUpdateTask_OnLoadData_CommitsAndEvaluates_WithItsEpochsRecorded()
    {
        var reset = Ws.ResetToEmpty(P);
        long run = Ws.BeginRun(P, new RunRequest { Epochs = 3 });
        var model = Ws.LoadCurrentModel(P);
        var (train, test) = Ws.LoadData(P);
        var task = new UpdateTask(model, train, test, new TrainingOptions { Epochs = 3, Seed = 1 });
        task.EpochEnded += (_, record) => Ws.RecordEpoch(run, record);
        task.Run();
        long version = Ws.CommitModel(P, run, model);
        Ws.EndRun(run, TrainingState.Completed, null, version);

        Assert.Equal([1, 2, 3], Ws.PriorEpochs(P).Select(e => e.Epoch));
        Assert.All(Ws.PriorEpochs(P), e => Assert.NotNull(e.ValidationAccuracy));
        var view = Ws.Evaluate(P);
        Assert.Equal(version, view.VersionId);
        Assert.Equal(15, view.Rows.Count);
        Assert.Equal(Ws.PriorEpochs(P)[^1].ValidationAccuracy!.Value, view.Accuracy, 6);
        Assert.NotEqual(reset.Id, Ws.GetProject(P).CurrentVersionId);
    }
}
