using Tailor.Data;
using Tailor.Images;
using Tailor.Prediction;
using Tailor.Tests.Images;
using Tailor.Training;
using Tailor.Training.Schedules;

namespace Tailor.Tests.Training;

/// <summary>
/// Which epoch a run hands back and when it stops: keep-best writes the epoch with the lowest validation loss,
/// patience stops a run whose validation loss no longer improves, and a validation split holds out a
/// stratified, seeded part of the training photos (every augmented copy with its photo). Real photos, two or
/// three per label, so each run takes about a second after the features.
/// </summary>
[Trait("Category", "Slow")]
public sealed class KeepBestTests : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly PreparedModelFixture _fixture;
    private readonly TempFolder _dir = new();

    public KeepBestTests(PreparedModelFixture fixture)
    {
        _fixture = fixture;
        Train = MakeFolder("train", 0, 2);
        Validation = MakeFolder("validation", 2, 2);
    }

    /// <summary>The first two hands training photos of each label.</summary>
    private string Train { get; }

    /// <summary>The next two of each label: photos the model does not train on.</summary>
    private string Validation { get; }

    public void Dispose() => _dir.Dispose();

    private string MakeFolder(string name, int skip, int count)
    {
        string root = Path.Combine(_dir.Path, name);
        var hands = LabeledFolder.Scan(TestData.HandsTrain);
        foreach (var label in hands.Labels)
        {
            string target = Directory.CreateDirectory(Path.Combine(root, label)).FullName;
            foreach (var e in hands.ExamplesOf(label).Skip(skip).Take(count))
                File.Copy(e.Path, Path.Combine(target, Path.GetFileName(e.Path)), overwrite: true);
        }
        return root;
    }

    // A constant, high rate on six photos: the validation loss falls, then rises as the model overfits, so the
    // best epoch is not the last. Constant, so that the first k epochs of a longer run are a k-epoch run.
    private static TrainingOptions Options(int epochs) => new()
    {
        Epochs = epochs, BatchSize = 4, LearningRate = 0.05, Augmentation = AugmentationOptions.None,
        Schedule = LearningRateSchedule.Parse("constant", epochs),
    };

    private static int LowestValidationLoss(TrainingHistory history) =>
        history.Epochs.MinBy(e => e.ValidationLoss!.Value)!.Epoch;

    [Fact]
    public void KeepBest_WritesTheEpochWithTheLowestValidationLoss()
    {
        var model = _fixture.Load();
        var task = new UpdateTask(model, LabeledFolder.Scan(Train), LabeledFolder.Scan(Validation), Options(epochs: 12) with { KeepBest = true });
        TrainingCompletedEventArgs? completed = null;
        task.Completed += (_, e) => completed = e;

        var result = task.Run();

        Assert.Equal(TrainingState.Completed, result.State);
        Assert.Equal(12, result.EpochsCompleted);
        int best = LowestValidationLoss(result.History);
        Assert.True(best < 12, "the run must overfit for this test to tell the best epoch from the last: " + string.Join(" ", result.History.Epochs.Select(e => e.ValidationLoss!.Value.ToString("F3"))));
        Assert.Equal(best, result.KeptEpoch);
        Assert.Equal(best, completed!.KeptEpoch);
        Assert.Equal(best, result.History.KeptEpoch);
        Assert.False(result.StoppedEarly);
        Assert.Null(result.Reason);
        // The model as written, run by ONNX Runtime, has the best epoch's validation loss…
        string path = _dir.File("best.onnx");
        model.Save(path);
        using (var predictor = new Predictor(UpdatableModel.Load(path)))
        {
            var report = Evaluator.Evaluate(predictor, LabeledFolder.Scan(Validation));
            Assert.Equal(result.History.Epochs[best - 1].ValidationLoss!.Value, report.Loss, 3);
        }
        // …and exactly the weights of a run that stopped there.
        var shorter = _fixture.Load();
        Assert.Equal(TrainingState.Completed, new UpdateTask(shorter, LabeledFolder.Scan(Train), LabeledFolder.Scan(Validation),
            Options(epochs: best) with { KeepBest = false }).Run().State);
        Assert.Equal(CheckpointTests.BitsOf(shorter.GetParameter("classifier.weight")), CheckpointTests.BitsOf(model.GetParameter("classifier.weight")));
        string convolution = model.Spec.UpdatableLayers.Single(l => l.Name == "Convolution387").Parameters[0];
        Assert.Equal(CheckpointTests.BitsOf(shorter.GetParameter(convolution)), CheckpointTests.BitsOf(model.GetParameter(convolution)));
    }

    [Fact]
    public void WithoutKeepBest_TheLastEpochIsWritten()
    {
        var model = _fixture.Load();
        var result = new UpdateTask(model, LabeledFolder.Scan(Train), LabeledFolder.Scan(Validation), Options(epochs: 12) with { KeepBest = false }).Run();

        Assert.Equal(12, result.KeptEpoch);
        Assert.Equal(12, result.History.KeptEpoch);
        using var predictor = new Predictor(model);
        Assert.Equal(result.History.Epochs[^1].ValidationLoss!.Value, Evaluator.Evaluate(predictor, LabeledFolder.Scan(Validation)).Loss, 3);
    }

    [Fact]
    public void Patience_StopsWhenTheValidationLossHasNotImprovedForThatManyEpochs_AndSaysWhy()
    {
        var model = _fixture.Load();
        var task = new UpdateTask(model, LabeledFolder.Scan(Train), LabeledFolder.Scan(Validation), Options(epochs: 50) with { Patience = 2, KeepBest = true });
        TrainingCompletedEventArgs? completed = null;
        task.Completed += (_, e) => completed = e;

        var result = task.Run();

        Assert.Equal(TrainingState.Completed, result.State);
        Assert.True(result.StoppedEarly);
        Assert.True(completed!.StoppedEarly);
        Assert.True(result.EpochsCompleted < 50, $"ran all {result.EpochsCompleted} epochs");
        Assert.Equal(result.EpochsCompleted, result.History.Epochs.Count);
        int best = LowestValidationLoss(result.History);
        Assert.Equal(best + 2, result.EpochsCompleted);
        Assert.Equal(best, result.KeptEpoch);
        Assert.Contains($"Stopped early after epoch {result.EpochsCompleted} of 50", result.Reason);
        Assert.Contains("not improved for 2 epochs", result.Reason);
        Assert.Contains($"at epoch {best}", result.Reason);
    }

    [Fact]
    public void Cancel_WithKeepBest_KeepsAndCheckpointsTheBestEpoch()
    {
        var model = _fixture.Load();
        string checkpoint = _dir.File("best.ckpt");
        var task = new UpdateTask(model, LabeledFolder.Scan(Train), LabeledFolder.Scan(Validation),
            Options(epochs: 50) with { KeepBest = true, CheckpointPath = checkpoint });
        var losses = new List<double>();
        var weights = new Dictionary<int, float[]>();
        task.EpochEnded += (_, e) =>
        {
            losses.Add(e.ValidationLoss!.Value);
            weights[e.Epoch] = task.Context.Parameters.Single(p => p.Name == "classifier.weight").Value.ToArray();
            // Stop once an epoch is worse than the best so far.
            if (e.ValidationLoss > losses.Min()) task.Context.Stop();
        };

        var result = task.Run();

        Assert.Equal(TrainingState.Cancelled, result.State);
        int best = losses.IndexOf(losses.Min()) + 1;
        Assert.True(best < result.EpochsCompleted);
        Assert.Equal(best, result.KeptEpoch);
        Assert.Contains($"the weights of epoch {best} (the lowest validation loss) are kept", result.Reason);
        Assert.Equal(CheckpointTests.BitsOf(weights[best]), CheckpointTests.BitsOf(model.GetParameter("classifier.weight")));
        Assert.Equal(best, Checkpoint.Read(checkpoint).EpochsCompleted);
    }

    [Fact]
    public void ValidationSplit_IsStratified_ByPhoto_AndDeterministicBySeed()
    {
        var hands = LabeledFolder.Scan(TestData.HandsTrain);   // 10 photos of each of 3 labels

        var a = UpdateTask.HoldOut(hands, 0.2, seed: 7);
        var b = UpdateTask.HoldOut(hands, 0.2, seed: 7);
        var c = UpdateTask.HoldOut(hands, 0.2, seed: 8);

        Assert.Equal(6, a.Count);
        Assert.All(hands.Labels, label => Assert.Equal(2, a.Count(i => hands.Examples[i].Label == label)));
        Assert.Equal(a.Order(), b.Order());
        Assert.NotEqual(a.Order(), c.Order());
        // Not simply the first photos of each label.
        Assert.NotEqual([0, 1, 10, 11, 20, 21], a.Order());
        // round(F·n), at least one per label.
        Assert.Equal(3, UpdateTask.HoldOut(hands, 0.01, seed: 7).Count);
        Assert.Equal(15, UpdateTask.HoldOut(hands, 0.5, seed: 7).Count);
    }

    [Fact]
    public void ValidationSplit_TrainsOnTheOtherPhotos_WithAllTheirVariants_AndValidatesOnTheHeldOutPhotosAsTheyAre()
    {
        string data = MakeFolder("three", 0, 3);
        var folder = LabeledFolder.Scan(data);
        var model = _fixture.Load();
        var options = Options(epochs: 2) with { ValidationSplit = 0.34, Seed = 5, Augmentation = AugmentationOptions.Parse("flip,rotate:15,variants:3"), KeepBest = false };
        var task = new UpdateTask(model, folder, options: options);
        TrainingBeganEventArgs? began = null;
        task.TrainingBegan += (_, e) => began = e;

        var result = task.Run();

        Assert.Equal(TrainingState.Completed, result.State);
        // One photo of each label held out: 6 photos train, each with its 3 variants; none of a held-out photo's.
        Assert.Equal(6, began!.Examples);
        Assert.Equal(3, began.Variants);
        // The validation loss is that of the held-out photos (the seed's split), unaugmented.
        string held = Path.Combine(_dir.Path, "held");
        foreach (int i in UpdateTask.HoldOut(folder, 0.34, seed: 5))
        {
            var e = folder.Examples[i];
            Directory.CreateDirectory(Path.Combine(held, e.Label));
            File.Copy(e.Path, Path.Combine(held, e.Label, Path.GetFileName(e.Path)));
        }
        Assert.Equal(3, LabeledFolder.Scan(held).Examples.Count);
        using var predictor = new Predictor(model);
        Assert.Equal(result.History.Epochs[^1].ValidationLoss!.Value, Evaluator.Evaluate(predictor, LabeledFolder.Scan(held)).Loss, 3);
    }

    [Fact]
    public void ValidationSplit_ALabelWithOnePhoto_IsAnErrorNamingIt()
    {
        string data = MakeFolder("thin", 0, 2);
        foreach (var extra in Directory.GetFiles(Path.Combine(data, "✋")).Skip(1)) File.Delete(extra);

        var e = Assert.Throws<TailorException>(() =>
            new UpdateTask(_fixture.Load(), LabeledFolder.Scan(data), options: Options(2) with { ValidationSplit = 0.2 }).Run());

        Assert.Contains("'✋' has 1 example", e.Message);
        Assert.Contains("ValidationSplit", e.Message);
    }

    [Theory]
    [InlineData(0.7)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void ValidationSplit_OutsideItsRange_IsRejected(double fraction)
    {
        var e = Assert.Throws<TailorException>(() =>
            new UpdateTask(_fixture.Load(), LabeledFolder.Scan(Train), options: Options(2) with { ValidationSplit = fraction }).Run());
        Assert.Contains("ValidationSplit", e.Message);
        Assert.Contains("(0, 0.5]", e.Message);
    }

    [Fact]
    public void KeepBestOrPatience_WithoutValidationData_OrASplitBesideAFolder_AreErrors()
    {
        var keep = Assert.Throws<TailorException>(() =>
            new UpdateTask(_fixture.Load(), LabeledFolder.Scan(Train), options: Options(2) with { KeepBest = true }).Run());
        Assert.Contains("KeepBest", keep.Message);
        Assert.Contains("no validation data", keep.Message);

        var patience = Assert.Throws<TailorException>(() =>
            new UpdateTask(_fixture.Load(), LabeledFolder.Scan(Train), options: Options(2) with { Patience = 3 }).Run());
        Assert.Contains("Patience", patience.Message);

        var both = Assert.Throws<TailorException>(() =>
            new UpdateTask(_fixture.Load(), LabeledFolder.Scan(Train), LabeledFolder.Scan(Validation), Options(2) with { ValidationSplit = 0.2 }).Run());
        Assert.Contains("one or the other", both.Message);
    }

    [Fact]
    public void Epochs_WithValidationAndKeepBest_AllocateAlmostNothing_OnceWarm()
    {
        var model = _fixture.Load();
        var task = new UpdateTask(model, LabeledFolder.Scan(Train), LabeledFolder.Scan(Validation), Options(epochs: 6) with { KeepBest = true, Patience = 100 });
        var allocated = new List<long>();
        task.EpochEnded += (_, _) => allocated.Add(GC.GetAllocatedBytesForCurrentThread());

        Assert.Equal(TrainingState.Completed, task.Run().State);

        long perEpoch = (allocated[^1] - allocated[1]) / (allocated.Count - 2);
        Assert.True(perEpoch < 64 * 1024, $"An epoch after the first two allocated {perEpoch:N0} bytes.");
    }
}
