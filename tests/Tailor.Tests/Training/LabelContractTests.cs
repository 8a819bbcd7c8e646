using Tailor.Building;
using Tailor.Data;
using Tailor.Heads;
using Tailor.Images;
using Tailor.Prediction;
using Tailor.Spec;
using Tailor.Tests.Images;
using Tailor.Training;

namespace Tailor.Tests.Training;

/// <summary>
/// Labels are the model's contract (DESIGN decision 8), on the data side: a model remembers which labels it
/// was trained on and with how many photos; training data that lacks one is refused before any work unless
/// the old examples are replayed or the user says to forget; labels named like a free placeholder take that
/// slot; a label with no readable photo takes none. Small sets (two photos per label, no augmentation) keep
/// each run short; the accuracy of replay is measured on the whole hands set.
/// </summary>
[Trait("Category", "Slow")]
public sealed class LabelContractTests : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly PreparedModelFixture _fixture;
    private readonly TempFolder _dir = new();

    public LabelContractTests(PreparedModelFixture fixture)
    {
        _fixture = fixture;
        SmallSet = MakeFolder("small", ("✊", "✊", 2), ("✋", "✋", 2), ("✌️", "✌️", 2));
        StarOnly = Path.Combine(_dir.Path, "star-only");
        StarImages.Write(Path.Combine(StarOnly, "star"), 3, seed: 1);
    }

    private string SmallSet { get; }

    private string StarOnly { get; }

    public void Dispose() => _dir.Dispose();

    private string MakeFolder(string name, params (string Source, string Label, int Count)[] parts) => _dir.HandsSubset(name, parts);

    private static TrainingOptions Options(int epochs = 2) => new() { Epochs = epochs, BatchSize = 4, LearningRate = 0.01, Augmentation = AugmentationOptions.None };

    private UpdatableModel TrainedOnSmallSet(TrainingOptions? options = null)
    {
        var model = _fixture.Load();
        var result = new UpdateTask(model, LabeledFolder.Scan(SmallSet), options: options ?? Options()).Run();
        Assert.Equal(TrainingState.Completed, result.State);
        return model;
    }

    [Fact]
    public void Training_RecordsItsLabelsAndPhotoCounts_InTheSavedSpec()
    {
        Assert.Null(_fixture.Load().Spec.TrainedExamples);   // prepared, nothing learned yet
        var model = TrainedOnSmallSet();
        string path = _dir.File("recorded.onnx");
        model.Save(path);

        var record = UpdatableModel.Load(path).Spec.TrainedExamples!;
        Assert.Equal(["✊", "✋", "✌️"], record.Keys);
        Assert.All(record.Values, n => Assert.Equal(2, n));   // photos, not augmented variants
        Assert.Contains("\"trained_examples\":{\"✊\":2", model.Spec.ToJson());
    }

    [Fact]
    public void ASpecWrittenBeforeTheRecord_Loads_AndCanBeTrainedOnAnyLabels()
    {
        // Version-1 JSON as Tailor wrote it before trained_examples existed: nothing is recorded, nothing refused.
        var spec = _fixture.Load().Spec;
        string json = spec.ToJson();
        Assert.DoesNotContain("trained_examples", json);
        Assert.Null(UpdateSpec.FromJson(json, "old.onnx").TrainedExamples);
    }

    [Fact]
    public void DataLackingTrainedLabels_IsRefusedBeforeAnyFeatures_NamingThemAndTheWaysForward()
    {
        var model = TrainedOnSmallSet();
        var weights = model.GetParameter("classifier.weight");
        var task = new UpdateTask(model, LabeledFolder.Scan(StarOnly), options: Options());
        int featureReports = 0;
        task.FeaturesProgress += (_, _) => featureReports++;

        var e = Assert.Throws<TailorException>(() => task.Run());

        Assert.Contains("'✊' (2 photos), '✋' (2 photos) and '✌️' (2 photos)", e.Message);
        Assert.Contains("forget", e.Message);
        Assert.Contains(nameof(TrainingOptions.Forget), e.Message);
        Assert.Contains(nameof(TrainingOptions.ReplayExamplesPath), e.Message);
        Assert.Contains(nameof(TrainingOptions.KeepExamplesPath), e.Message);
        Assert.Equal(0, featureReports);
        Assert.Equal(weights, model.GetParameter("classifier.weight"));
        Assert.DoesNotContain("star", model.Spec.Labels.Names);
    }

    [Fact]
    public void Forget_GoesAheadKnowingly_AndTheRecordKeepsOnlyWhatThisTrainingSaw()
    {
        var model = TrainedOnSmallSet();

        var result = new UpdateTask(model, LabeledFolder.Scan(StarOnly), options: Options() with { Forget = true }).Run();

        Assert.Equal(TrainingState.Completed, result.State);
        Assert.Equal(["✊", "✋", "✌️"], result.Forgotten);
        Assert.Equal(["star"], model.Spec.TrainedExamples!.Keys);
        // The forgotten labels keep their slots: the contract with the app does not change.
        Assert.Equal(["✊", "✋", "✌️", "star"], model.Spec.Labels.Names.Take(4));
    }

    [Fact]
    public void KeptExamples_AreReplayed_SoALabelIsAddedWithOnlyItsPhotos()
    {
        string kept = _dir.File("small.onnx.examples");
        var model = TrainedOnSmallSet(Options() with { KeepExamplesPath = kept });
        Assert.True(File.Exists(kept));

        var result = new UpdateTask(model, LabeledFolder.Scan(StarOnly), options: Options() with { ReplayExamplesPath = kept, KeepExamplesPath = kept }).Run();

        Assert.Equal(TrainingState.Completed, result.State);
        Assert.Equal(6, result.Replayed);
        Assert.Equal(9, result.KeptExamples);
        Assert.Empty(result.Forgotten);
        Assert.Equal(new Dictionary<string, int> { ["✊"] = 2, ["✋"] = 2, ["✌️"] = 2, ["star"] = 3 }, model.Spec.TrainedExamples);
        // The old photos given again are not replayed twice: the photo wins over its kept copy.
        var again = new UpdateTask(model, LabeledFolder.Scan(SmallSet), options: Options() with { ReplayExamplesPath = kept }).Run();
        Assert.Equal(3, again.Replayed);   // the stars only
        Assert.Equal(new Dictionary<string, int> { ["✊"] = 2, ["✋"] = 2, ["✌️"] = 2, ["star"] = 3 }, model.Spec.TrainedExamples);
    }

    [Fact]
    public void KeptExamples_ReplacedByTheSamePhotosUnderAnotherLabel_StillCountAsMissing_UnlessForget()
    {
        // Every ✊ photo moved to a new label 'rock': the kept ✊ examples are replaced by the data's copies, so
        // nothing of ✊ would be trained any more. That must be refused as plainly as leaving ✊ out.
        string kept = _dir.File("moved.onnx.examples");
        var model = TrainedOnSmallSet(Options() with { KeepExamplesPath = kept });
        string moved = MakeFolder("moved", ("✊", "rock", 2));

        var e = Assert.Throws<TailorException>(() =>
            new UpdateTask(model, LabeledFolder.Scan(moved), options: Options() with { ReplayExamplesPath = kept }).Run());
        Assert.Contains("'✊' (2 photos)", e.Message);
        Assert.Contains("replace their kept examples", e.Message);

        var result = new UpdateTask(model, LabeledFolder.Scan(moved), options: Options() with { ReplayExamplesPath = kept, Forget = true }).Run();
        Assert.Equal(TrainingState.Completed, result.State);
        Assert.Equal(["✊"], result.Forgotten);
        Assert.Equal(new Dictionary<string, int> { ["✋"] = 2, ["✌️"] = 2, ["rock"] = 2 }, model.Spec.TrainedExamples);
    }

    [Fact]
    public void KeptExamples_FromAnotherCut_AreRefused_NamingTheFile()
    {
        // Kept by a classifier-only model (cut at the 512-d features); the fixture fine-tunes a convolution (cut at 256×14×14).
        var headOnly = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"], Capacity = 10, UpdatableLayers = [ModelBuilder.ClassifierNode] });
        string kept = _dir.File("head-only.examples");
        Assert.Equal(TrainingState.Completed, new UpdateTask(headOnly, LabeledFolder.Scan(SmallSet), options: Options() with { KeepExamplesPath = kept }).Run().State);
        var model = TrainedOnSmallSet();

        var e = Assert.Throws<TailorException>(() => new UpdateTask(model, LabeledFolder.Scan(StarOnly), options: Options() with { ReplayExamplesPath = kept }).Run());

        Assert.Contains(kept, e.Message);
        Assert.Contains("another backbone or cut", e.Message);
    }

    [Fact]
    public void KeptExamples_ThatDoNotMatchTheModelsRecord_AreRefused()
    {
        string kept = _dir.File("stale.examples");
        TrainedOnSmallSet(Options() with { KeepExamplesPath = kept });
        // Another training of the same backbone, on other photos, without keeping: the file is stale for it.
        var model = _fixture.Load();
        string other = MakeFolder("other", ("✊", "✊", 3), ("✋", "✋", 3), ("✌️", "✌️", 3));
        Assert.Equal(TrainingState.Completed, new UpdateTask(model, LabeledFolder.Scan(other), options: Options()).Run().State);

        var e = Assert.Throws<TailorException>(() => new UpdateTask(model, LabeledFolder.Scan(StarOnly), options: Options() with { ReplayExamplesPath = kept }).Run());

        Assert.Contains(kept, e.Message);
        Assert.Contains("do not match what the model was last trained on", e.Message);
    }

    [Fact]
    public void LogisticRegression_RefusesDataLackingTrainedLabels_AndReplaysKeptExamples()
    {
        var model = _fixture.Load();
        string kept = _dir.File("logreg.examples");
        HeadTrainer.TrainLogisticRegression(model, LabeledFolder.Scan(SmallSet), new LogisticRegressionTrainingOptions { KeepExamplesPath = kept });
        Assert.Equal(new Dictionary<string, int> { ["✊"] = 2, ["✋"] = 2, ["✌️"] = 2 }, model.Spec.TrainedExamples);

        var e = Assert.Throws<TailorException>(() => HeadTrainer.TrainLogisticRegression(model, LabeledFolder.Scan(StarOnly)));
        Assert.Contains("'✊' (2 photos)", e.Message);

        var replayed = HeadTrainer.TrainLogisticRegression(model, LabeledFolder.Scan(StarOnly), new LogisticRegressionTrainingOptions { ReplayExamplesPath = kept });
        Assert.Equal(6, replayed.Replayed);
        Assert.Equal(new Dictionary<string, int> { ["✊"] = 2, ["✋"] = 2, ["✌️"] = 2, ["star"] = 3 }, model.Spec.TrainedExamples);
        var forgot = HeadTrainer.TrainLogisticRegression(_fixture.Load(), LabeledFolder.Scan(StarOnly), new LogisticRegressionTrainingOptions { Forget = true });
        Assert.Empty(forgot.Forgotten);   // the prepared model had learned nothing to forget
    }

    [Fact]
    public void Knn_KeepsItsStoredExamples_SoOnlyASwitchFromATrainedHeadIsChecked()
    {
        var knn = _fixture.Load();
        HeadTrainer.TrainKnn(knn, LabeledFolder.Scan(SmallSet));
        // Adding a label to a k-NN forgets nothing: its stored examples stay.
        HeadTrainer.TrainKnn(knn, LabeledFolder.Scan(StarOnly));
        Assert.Equal(new Dictionary<string, int> { ["✊"] = 2, ["✋"] = 2, ["✌️"] = 2, ["star"] = 3 }, knn.Spec.TrainedExamples);

        // A k-NN replacing a trained classifier would start from nothing: that forgets, and is refused.
        var trained = TrainedOnSmallSet();
        var e = Assert.Throws<TailorException>(() => HeadTrainer.TrainKnn(trained, LabeledFolder.Scan(StarOnly)));
        Assert.Contains("'✊' (2 photos)", e.Message);
    }

    [Fact]
    public void ALabelNamedLikeAFreePlaceholder_TakesThatSlot()
    {
        // The fixture's slots: ✊ ✋ ✌️ user0…user6 (slots 3…9); a folder 'user3' must not duplicate slot 6's name.
        string data = MakeFolder("placeholder", ("✊", "✊", 1), ("✋", "✋", 1), ("✌️", "✌️", 1), ("✋", "user3", 1), ("✊", "apple", 1));
        var model = _fixture.Load();

        var result = new UpdateTask(model, LabeledFolder.Scan(data), options: Options(epochs: 1)).Run();

        Assert.Equal(6, result.NewLabels["user3"]);
        Assert.Equal(3, result.NewLabels["apple"]);
        Assert.Equal(model.Spec.Labels.Names.Count, model.Spec.Labels.Names.Distinct().Count());

        var logreg = _fixture.Load();
        var r = HeadTrainer.TrainLogisticRegression(logreg, LabeledFolder.Scan(data));
        Assert.Equal(6, r.NewLabels["user3"]);
        Assert.Equal(logreg.Spec.Labels.Names.Count, logreg.Spec.Labels.Names.Distinct().Count());
    }

    [Fact]
    public void UnderSkipBad_ALabelWithNoReadablePhoto_TakesNoSlot_AndIsReported()
    {
        string data = MakeFolder("unreadable-label", ("✊", "✊", 2), ("✋", "✋", 2));
        Directory.CreateDirectory(Path.Combine(data, "ghost"));
        File.WriteAllText(Path.Combine(data, "ghost", "broken.jpg"), "not a picture");

        var model = _fixture.Load();
        var result = new UpdateTask(model, LabeledFolder.Scan(data), options: Options() with { SkipBadExamples = true }).Run();
        Assert.Equal(TrainingState.Completed, result.State);
        Assert.Equal(["ghost"], result.LabelsWithoutExamples);
        Assert.Empty(result.NewLabels);
        Assert.DoesNotContain("ghost", model.Spec.Labels.Names);

        var logreg = _fixture.Load();
        var r = HeadTrainer.TrainLogisticRegression(logreg, LabeledFolder.Scan(data), new LogisticRegressionTrainingOptions { SkipBadExamples = true });
        Assert.Equal(["ghost"], r.LabelsWithoutExamples);
        Assert.DoesNotContain("ghost", logreg.Spec.Labels.Names);
    }
}
