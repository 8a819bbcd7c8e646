using Tailor.Data;
using Tailor.Heads;
using Tailor.Spec;
using Tailor.Studio;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Tests.Studio.Workspace;

/// <summary>A workspace shared by the class; each test imports the hands photos as a project of its own (tests change
/// labels and the current version).</summary>
public sealed class VersionsWorkspaceFixture : IDisposable
{
    private readonly TempWorkspaceFolder _folder = new();

    public VersionsWorkspaceFixture() => Workspace = Tailor.Studio.Workspace.Open(_folder.Sub("ws"));

    public Tailor.Studio.Workspace Workspace { get; }

    public string ModelsFolder => Path.Combine(Workspace.Directory, "models");

    public ProjectInfo ImportHands() => Workspace.ImportFolder(TestData.Hands, null, null, CancellationToken.None);

    public void Dispose()
    {
        Workspace.Dispose();
        _folder.Dispose();
    }
}

/// <summary>Model versions (issue 12): two versions compared on the test set agree with each one's Evaluate; a version
/// made before a label was renamed, deleted or added compares on the labels it knew; stored evaluations are reused only
/// for the same test set; any kind of version can become current again; versions carry their run's settings; the run
/// history lists every run.</summary>
[Trait("Category", "Slow")]
public sealed class WorkspaceVersionTests(VersionsWorkspaceFixture fixture) : IClassFixture<VersionsWorkspaceFixture>
{
    private Tailor.Studio.Workspace Ws => fixture.Workspace;

    private long Commit(long project, RunRequest request, Action<UpdatableModel, LabeledFolder, LabeledFolder?, long> train)
    {
        long run = Ws.BeginRun(project, request);
        // As the run manager does: k-NN from the base model, any head from the base when the current model is a k-NN.
        var model = Ws.LoadCurrentModel(project);
        if (request.Head == RunHead.Knn || model.Spec.Head == HeadKind.KNearestNeighbors) model = ((IRunStore)Ws).LoadBaseModel(project)!;
        var (trainSet, testSet) = Ws.LoadData(project);
        train(model, trainSet, testSet, run);
        long version = Ws.CommitModel(project, run, model);
        Ws.EndRun(run, TrainingState.Completed, null, version);
        return version;
    }

    private long Knn(long project) =>
        Commit(project, new RunRequest { Head = RunHead.Knn }, (m, d, _, _) => HeadTrainer.TrainKnn(m, d));

    private long Network(long project, int epochs, int seed = 1) =>
        Commit(project, new RunRequest { Head = RunHead.NeuralNetwork, Epochs = epochs, LearningRate = 0.01, BatchSize = 8, Seed = seed }, (m, d, v, run) =>
        {
            var task = new UpdateTask(m, d, v, new TrainingOptions { Epochs = epochs, Seed = seed, LearningRate = 0.01, BatchSize = 8 });
            task.EpochEnded += (_, record) => Ws.RecordEpoch(run, record);
            task.Run();
        });

    private static (int BothRight, int OnlyA, int OnlyB, int BothWrong, int Disagree) CountsOf(EvaluationView a, EvaluationView b)
    {
        var rb = b.Rows.ToDictionary(r => r.ExampleId);
        int bothRight = 0, onlyA = 0, onlyB = 0, bothWrong = 0, disagree = 0;
        foreach (var ra in a.Rows)
        {
            var other = rb[ra.ExampleId];
            if (ra.Correct && other.Correct) bothRight++;
            else if (ra.Correct) onlyA++;
            else if (other.Correct) onlyB++;
            else bothWrong++;
            if (ra.PredictedLabel != other.PredictedLabel) disagree++;
        }
        return (bothRight, onlyA, onlyB, bothWrong, disagree);
    }

    /// <summary>Compare's rows and counts are what each version's own Evaluate says, example by example.</summary>
    private void AssertAgreesWithEvaluate(ComparisonView compared, EvaluationView a, EvaluationView b)
    {
        Assert.Equal(CountsOf(a, b), (compared.BothRight, compared.OnlyARight, compared.OnlyBRight, compared.BothWrong, compared.Disagreements));
        Assert.Equal(a.Count, compared.Count);
        Assert.Equal(a.Accuracy, compared.AccuracyA, 9);
        Assert.Equal(b.Accuracy, compared.AccuracyB, 9);
        Assert.Equal(compared.Count, compared.BothRight + compared.OnlyARight + compared.OnlyBRight + compared.BothWrong);
        var ra = a.Rows.ToDictionary(r => r.ExampleId);
        var rb = b.Rows.ToDictionary(r => r.ExampleId);
        Assert.Equal(ra.Keys.Order(), compared.Rows.Select(r => r.ExampleId).Order());
        foreach (var row in compared.Rows)
        {
            Assert.Equal((ra[row.ExampleId].PredictedLabel, ra[row.ExampleId].Correct), (row.A!.Label, row.A.Correct));
            Assert.Equal((rb[row.ExampleId].PredictedLabel, rb[row.ExampleId].Correct), (row.B!.Label, row.B.Correct));
            Assert.Equal(ra[row.ExampleId].PredictedProbability, row.A.Probability, 9);
            Assert.Equal(ra[row.ExampleId].TrueLabel, row.TrueLabel);
            Assert.Equal(row.A.Label != row.B.Label, row.Disagree);
        }
        // Disagreements first, then the ones both got wrong.
        Assert.All(compared.Rows.Take(compared.Disagreements), r => Assert.True(r.Disagree));
        Assert.All(compared.Rows.Skip(compared.Disagreements).Take(compared.Rows.Count(r => !r.Disagree && !r.A!.Correct && !r.B!.Correct)),
            r => Assert.False(r.A!.Correct || r.B!.Correct));
    }

    [Fact]
    public void Compare_KnnAndA2EpochNetwork_CountsAndRowsAgreeWithEachVersionsEvaluate()
    {
        long p = fixture.ImportHands().Id;
        long knn = Knn(p);
        long network = Network(p, 2);

        var compared = Ws.Compare(p, knn, network);
        var a = Ws.Evaluate(p, knn);
        var b = Ws.Evaluate(p, network);

        Assert.Equal((knn, network, 15), (compared.VersionA, compared.VersionB, compared.Count));
        AssertAgreesWithEvaluate(compared, a, b);
        Assert.True(compared.AccuracyA >= 0.8, $"k-NN accuracy {compared.AccuracyA}");
        Assert.Empty(compared.UnknownToA);
        Assert.Empty(compared.UnknownToB);
        Assert.Empty(compared.Skipped);
        // Swapped, the same counts from the other side.
        var swapped = Ws.Compare(p, network, knn);
        Assert.Equal((compared.BothRight, compared.OnlyBRight, compared.OnlyARight, compared.BothWrong),
            (swapped.BothRight, swapped.OnlyARight, swapped.OnlyBRight, swapped.BothWrong));

        var same = Assert.Throws<TailorException>(() => Ws.Compare(p, knn, knn));
        Assert.Contains("two different versions", same.Message);
        var foreign = Assert.Throws<NotFoundException>(() => Ws.Compare(p, knn, 987654));
        Assert.Contains("has no model version 987654", foreign.Message);
    }

    [Fact]
    public void Compare_ReusesAStoredEvaluation_OnlyWhileTheTestSetAndLabelsAreTheSame()
    {
        long p = fixture.ImportHands().Id;
        long knn = Knn(p);
        long baseVersion = Ws.ListModelVersions(p)[0].Id;
        Ws.Compare(p, baseVersion, knn);

        // Stored predictions are reused: the model file is not needed to compare again.
        string file = Ws.ModelFile(knn);
        File.Move(file, file + ".away");
        try
        {
            Assert.Equal(15, Ws.Compare(p, baseVersion, knn).Count);
        }
        finally
        {
            File.Move(file + ".away", file);
        }

        // A test photo moved to another label: the stored evaluation no longer holds, the version is evaluated again.
        var project = Ws.GetProject(p);
        var fist = project.Labels.Single(l => l.Name == "✊");
        var palm = project.Labels.Single(l => l.Name == "✋");
        var moved = Ws.ListExamples(p, fist.Id, ExampleSet.Test, 0, 1).Items[0];
        Ws.MoveExample(p, moved.Id, palm.Id, null);
        var after = Ws.Compare(p, baseVersion, knn);
        Assert.Equal("✋", after.Rows.Single(r => r.ExampleId == moved.Id).TrueLabel);
        AssertAgreesWithEvaluate(after, Ws.Evaluate(p, baseVersion), Ws.Evaluate(p, knn));

        // A test photo moved to the training set: it leaves the comparison.
        Ws.MoveExample(p, moved.Id, null, ExampleSet.Train);
        Assert.Equal(14, Ws.Compare(p, baseVersion, knn).Count);
    }

    [Fact]
    public void Compare_AVersionMadeBeforeALabelWasRenamedAndAnotherDeleted_ComparesOnTodaysLabels()
    {
        long p = fixture.ImportHands().Id;
        long older = Knn(p);
        var project = Ws.GetProject(p);
        var peace = project.Labels.Single(l => l.Name == "✌️");
        var palm = project.Labels.Single(l => l.Name == "✋");
        Ws.RenameLabel(p, peace.Id, "peace");
        Ws.DeleteLabel(p, palm.Id);
        long newer = Knn(p);

        var compared = Ws.Compare(p, older, newer);

        Assert.Equal(10, compared.Count);   // the deleted label's test photos went with it
        Assert.Empty(compared.UnknownToA);
        AssertAgreesWithEvaluate(compared, Ws.Evaluate(p, older), Ws.Evaluate(p, newer));
        // The older version's renamed label is predicted under its new name; what it predicts in its deleted label's slot
        // (a k-NN still holds that label's photos) is named as deleted, and is wrong.
        Assert.All(compared.Rows, r => Assert.Contains(r.A!.Label, new[] { "✊", "peace", "✋ (deleted)" }));
        Assert.All(compared.Rows.Where(r => r.A!.Label == "✋ (deleted)"), r => Assert.False(r.A!.Correct));
        Assert.Contains(compared.Rows, r => r.TrueLabel == "peace" && r.A!.Label == "peace" && r.A.Correct);
        Assert.True(compared.AccuracyA >= 0.5, $"older version's accuracy on today's labels {compared.AccuracyA}");
    }

    [Fact]
    public void Compare_AVersionMadeBeforeALabelTookADeletedLabelsSlot_CannotPredictIt_AndSaysSo()
    {
        long p = fixture.ImportHands().Id;
        long older = Knn(p);
        var fist = Ws.GetProject(p).Labels.Single(l => l.Name == "✊");
        Ws.DeleteLabel(p, fist.Id);
        var again = Ws.AddLabel(p, "fist");
        Assert.Equal(fist.Slot, again.Slot);   // the freed slot is taken again: the older version learned ✊ there, not "fist"
        foreach (var (set, folder) in new[] { (ExampleSet.Train, TestData.HandsTrain), (ExampleSet.Test, TestData.HandsTest) })
            foreach (string photo in Directory.GetFiles(Path.Combine(folder, "✊")))
            {
                using var stream = File.OpenRead(photo);
                Ws.AddExample(p, again.Id, set, stream, "upload", Path.GetFileName(photo));
            }
        long newer = Knn(p);

        var compared = Ws.Compare(p, older, newer);

        Assert.Equal(["fist"], compared.UnknownToA);
        Assert.Empty(compared.UnknownToB);
        var fistRows = compared.Rows.Where(r => r.TrueLabel == "fist").ToList();
        Assert.Equal(5, fistRows.Count);
        Assert.All(compared.Rows, r => Assert.NotEqual("fist", r.A!.Label));
        Assert.True(fistRows.Count(r => r.A!.Label == "✊ (deleted)") >= 4, "the older version sees the fists as the label it learned, since deleted");
        Assert.All(fistRows, r => Assert.False(r.A!.Correct));
        Assert.True(fistRows.Count(r => r.B!.Correct) >= 4, "the newer version learned 'fist'");
        AssertAgreesWithEvaluate(compared, Ws.Evaluate(p, older), Ws.Evaluate(p, newer));
        Assert.Equal(["fist"], Ws.ListVersionDetails(p).Single(v => v.Id == older).UnknownLabels);
        // Made current again, the older version trains on: loaded for a run it has all of today's labels.
        Ws.MakeCurrent(p, older);
        Assert.Contains("fist", Ws.LoadCurrentModel(p).Spec.Labels.Names);
    }

    [Fact]
    public void MakeCurrent_WorksForEveryKindOfVersion_AndTheCurrentModelPredicts()
    {
        long p = fixture.ImportHands().Id;
        long baseVersion = Ws.ListModelVersions(p)[0].Id;
        long knn = Knn(p);
        long logreg = Commit(p, new RunRequest { Head = RunHead.LogisticRegression, L2 = 0.001 },
            (m, d, _, _) => HeadTrainer.TrainLogisticRegression(m, d, new LogisticRegressionTrainingOptions { L2 = 0.001 }));
        Ws.MakeCurrent(p, baseVersion);
        long network = Network(p, 1);
        long reset = Ws.ResetToEmpty(p).Id;

        foreach (var (version, head) in new[] { (baseVersion, HeadKind.NeuralNetwork), (knn, HeadKind.KNearestNeighbors), (logreg, HeadKind.LogisticRegression),
                     (network, HeadKind.NeuralNetwork), (reset, HeadKind.NeuralNetwork) })
        {
            var made = Ws.MakeCurrent(p, version);
            Assert.True(made.IsCurrent);
            Assert.Equal(version, Ws.GetProject(p).CurrentVersionId);
            Assert.Equal(head, Ws.LoadCurrentModel(p).Spec.Head);
            var evaluation = Ws.Evaluate(p);
            Assert.Equal((version, 15), (evaluation.VersionId, evaluation.Count));
            Assert.All(evaluation.Rows, r => Assert.Contains(r.PredictedLabel, new[] { "✊", "✋", "✌️" }));
            if (version == knn || version == logreg) Assert.True(evaluation.Accuracy >= 0.6, $"version {version}: {evaluation.Accuracy}");
        }
    }

    [Fact]
    public async Task AHeadRun_StoresItsVersionsEvaluation_SoTheHistoryShowsItsAccuracy_WithoutAnEvaluateCall()
    {
        long p = fixture.ImportHands().Id;
        using var runs = new RunManager(Ws);
        runs.Start(p, new RunRequest { Head = RunHead.LogisticRegression });
        await runs.WhenEnded(p).WaitAsync(TimeSpan.FromMinutes(5));
        var status = runs.Status(p)!;
        Assert.True(status.State == RunState.Finished, status.Message);
        long version = status.ModelVersionId!.Value;
        var stored = Ws.StoredEvaluation(p, version);
        Assert.NotNull(stored);
        Assert.Equal(15, stored.Count);
        Assert.Equal(stored.Accuracy, status.Accuracy);
        Assert.Equal((version, stored.Accuracy), (Ws.RunHistory(p)[0].ModelVersionId, Ws.RunHistory(p)[0].TestAccuracy));
        Assert.Equal(stored.Accuracy, Ws.ListVersionDetails(p).Single(v => v.Id == version).Accuracy);
    }

    [Fact]
    public void VersionsCarryTheirRunsSettings_AndTheHistoryListsEveryRun_NewestFirst()
    {
        long p = fixture.ImportHands().Id;
        long knn = Knn(p);
        long network = Network(p, 2, seed: 7);
        Ws.MakeCurrent(p, knn);   // making an older version current hides no run from the history
        long failed = Ws.BeginRun(p, new RunRequest { Head = RunHead.NeuralNetwork, Layers = RunLayers.ClassifierOnly, Epochs = 5 });
        Ws.EndRun(failed, TrainingState.Failed, "training diverged", null);
        Ws.Evaluate(p, knn);

        var versions = Ws.ListVersionDetails(p);
        Assert.Equal(versions.Select(v => v.Id).OrderDescending(), versions.Select(v => v.Id));
        var n = versions.Single(v => v.Id == network);
        Assert.Equal((RunHead.NeuralNetwork, 2, 0.01, 8, 7), (n.Settings!.Head, n.Settings.Epochs, n.Settings.LearningRate, n.Settings.BatchSize, n.Settings.Seed));
        Assert.Equal(2, n.EpochsTrained);
        Assert.Equal(Ws.ListRuns(p).Single(r => r.ModelVersionId == network).Epochs[^1].ValidationAccuracy, n.Accuracy);
        var k = versions.Single(v => v.Id == knn);
        Assert.Equal((RunHead.Knn, (int?)null), (k.Settings!.Head, k.EpochsTrained));
        Assert.True(k.IsCurrent);
        Assert.Equal((Ws.StoredEvaluation(p, knn)!.Accuracy, true), (k.Accuracy!.Value, k.AccuracyIsCurrent));
        var b = versions.Single(v => v.Kind == "base");
        Assert.Null(b.Settings);

        var history = Ws.RunHistory(p);
        Assert.Equal(3, history.Count);
        Assert.Equal(history.Select(r => r.RunId).OrderDescending(), history.Select(r => r.RunId));
        Assert.Equal((failed, "failed", "training diverged", (long?)null, RunLayers.ClassifierOnly, 0), 
            (history[0].RunId, history[0].State, history[0].Reason, history[0].ModelVersionId, history[0].Settings.Layers, history[0].EpochsDone));
        Assert.Equal((network, 2, RunHead.NeuralNetwork), (history[1].ModelVersionId, history[1].EpochsDone, history[1].Settings.Head));
        Assert.Equal(n.Accuracy, history[1].TestAccuracy);
        Assert.Equal((knn, k.Accuracy), (history[2].ModelVersionId, history[2].TestAccuracy));
        Assert.All(history, r => Assert.True(r.Seconds >= 0 && r.Ended >= r.Started));
        Assert.Throws<NotFoundException>(() => Ws.RunHistory(987654));
    }
}
