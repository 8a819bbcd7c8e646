using Tailor.Data;
using Tailor.Features;
using Tailor.Images;
using Tailor.Tests.Images;
using Tailor.Training;
using Tailor.Training.Schedules;

namespace Tailor.Tests.Training;

/// <summary>
/// The training core an app drives itself: a plan (settings, cut, slot assignment as a value, the model untouched),
/// a session (TrainStep/EvalStep on feature batches read straight from the cache, checkpoints with settings, export).
/// </summary>
[Trait("Category", "Slow")]
public sealed class TrainingSessionTests : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly PreparedModelFixture _fixture;
    private readonly TempFolder _dir = new();

    public TrainingSessionTests(PreparedModelFixture fixture)
    {
        _fixture = fixture;
        SmallSet = _dir.HandsSubset("small", ("✊", "✊", 2), ("✋", "✋", 2), ("✌️", "✌️", 2));
    }

    private string SmallSet { get; }

    public void Dispose() => _dir.Dispose();

    private static TrainingOptions Options(int epochs = 4) => new() { Epochs = epochs, BatchSize = 4, LearningRate = 0.01, Augmentation = AugmentationOptions.None };

    [Fact]
    public void OwnLoop_TrainStepLowersTheLoss_AndOnlyTheExportHasTheNewLabel()
    {
        var model = _fixture.Load();
        string data = _dir.HandsSubset("new-label", ("✊", "✊", 2), ("✋", "✋", 2), ("✌️", "✌️", 2), ("✌️", "peace", 2));
        var weightsBefore = model.GetParameter("classifier.weight");
        var labelsBefore = model.Spec.Labels;

        using var plan = TrainingPlan.Create(model, LabeledFolder.Scan(data), Options());
        Assert.Equal(["peace"], plan.Slots.NewLabels.Keys);
        using var features = plan.ComputeFeatures();
        using var session = new TrainingSession(plan);
        var first = session.Evaluate(features.Train)!.Value;
        for (int epoch = 0; epoch < 6; epoch++)
            foreach (var batch in features.Train.Batches(4, epoch))
                Assert.True(double.IsFinite(session.TrainStep(batch).Loss));
        var last = session.Evaluate(features.Train)!.Value;
        Assert.True(last.Loss < first.Loss, $"{first.Loss} → {last.Loss}");

        // The plan and the session never touch the model given; the export holds the label and the weights.
        Assert.Equal(labelsBefore, model.Spec.Labels);
        Assert.Equal(CheckpointTests.BitsOf(weightsBefore), CheckpointTests.BitsOf(model.GetParameter("classifier.weight")));
        var exported = session.ExportModel();
        Assert.Equal(plan.Slots.NewLabels["peace"], exported.Spec.Labels.IndexOf("peace"));
        Assert.Equal(CheckpointTests.BitsOf(session.Parameters.Single(p => p.Name == "classifier.weight").Value.ToArray()),
            CheckpointTests.BitsOf(exported.GetParameter("classifier.weight")));
    }

    [Fact]
    public void FailedTask_AfterTheSlotsWereAssigned_LeavesTheModelsLabelsAsTheyWere()
    {
        // Before: the task wrote the new label into the model before computing anything, and a failure left it there.
        var model = _fixture.Load();
        string data = _dir.HandsSubset("failing", ("✊", "✊", 2), ("✋", "✋", 2), ("✌️", "✌️", 2), ("✌️", "peace", 2));
        File.WriteAllText(Path.Combine(data, "peace", "broken.jpg"), "not a picture");
        var labelsBefore = model.Spec.Labels;

        var result = new UpdateTask(model, LabeledFolder.Scan(data), options: Options()).Run();

        Assert.Equal(TrainingState.Failed, result.State);
        Assert.Equal(labelsBefore, model.Spec.Labels);
        Assert.True(model.Spec.Labels.IndexOf("peace") < 0);
    }

    [Fact]
    public void TrainStep_AllocatesNothing_OnceWarm()
    {
        using var plan = TrainingPlan.Create(_fixture.Load(), LabeledFolder.Scan(SmallSet), Options());
        using var features = plan.ComputeFeatures();
        using var session = new TrainingSession(plan);
        var batch = features.Train.Batches(4).First();
        for (int i = 0; i < 3; i++) session.TrainStep(batch);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++)
        {
            session.TrainStep(batch);
            session.EvalStep(batch);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void FeatureBatch_ReadsEachCutTensor_AsTheRowHoldsIt()
    {
        var model = _fixture.Load();
        using var plan = TrainingPlan.Create(model, LabeledFolder.Scan(SmallSet), Options());
        Assert.True(plan.Cut.CutTensors.Count >= 2, "the default model's cut crosses the residual branch");
        using var features = plan.ComputeFeatures();
        var cache = features.Train.Cache;
        var row = new float[cache.RowLength];
        cache.Read(3, row);
        int offset = 0;
        for (int t = 0; t < cache.SegmentLengths.Count; t++)
        {
            var segment = new float[cache.SegmentLengths[t]];
            cache.Read(3, t, segment);
            Assert.Equal(row.AsSpan(offset, segment.Length).ToArray(), segment);
            offset += segment.Length;
        }
        Assert.Equal(row.Length, offset);
    }

    [Fact]
    public void Checkpoint_RecordsTheSettings_AndLoadNamesEachOneThatDiffers()
    {
        string path = _dir.File("settings.ckpt");
        var data = LabeledFolder.Scan(SmallSet);
        using (var plan = TrainingPlan.Create(_fixture.Load(), data, Options()))
        using (var features = plan.ComputeFeatures())
        using (var session = new TrainingSession(plan))
        {
            foreach (var batch in features.Train.Batches(4, 0)) session.TrainStep(batch);
            session.SaveCheckpoint(path, epochsCompleted: 1);
        }
        var recorded = Checkpoint.Read(path).Hyperparameters["training"]!.AsObject();
        Assert.Equal("4", recorded["batch_size"]!.GetValue<string>());

        using (var same = new TrainingSession(TrainingPlan.Create(_fixture.Load(), data, Options(epochs: 9))))
            Assert.Equal(1, same.LoadCheckpoint(path));   // a longer run may continue it

        using var other = new TrainingSession(TrainingPlan.Create(_fixture.Load(), data, Options() with { BatchSize = 2, Shuffle = false }));
        var before = other.Parameters.Single(p => p.Name == "classifier.weight").Value.ToArray();
        var e = Assert.Throws<TailorException>(() => other.LoadCheckpoint(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("batch_size 4 (this run: 2)", e.Message);
        Assert.Contains("shuffle true (this run: false)", e.Message);
        Assert.Equal(before, other.Parameters.Single(p => p.Name == "classifier.weight").Value.ToArray());
    }

    [Fact]
    public void OlderCheckpoint_WithoutSettings_IsCheckedOnTheSeedAlone()
    {
        string path = _dir.File("old.ckpt");
        var data = LabeledFolder.Scan(SmallSet);
        using (var session = new TrainingSession(TrainingPlan.Create(_fixture.Load(), data, Options())))
            Checkpoint.Write(path, 1, session.Settings.Seed, session.Parameters, session.Optimizer);   // no "training" record, as before
        using (var other = new TrainingSession(TrainingPlan.Create(_fixture.Load(), data, Options() with { BatchSize = 2 })))
            Assert.Equal(1, other.LoadCheckpoint(path));
        using var seeded = new TrainingSession(TrainingPlan.Create(_fixture.Load(), data, Options() with { Seed = 7 }));
        Assert.Contains("seed 42 (this run: 7)", Assert.Throws<TailorException>(() => seeded.LoadCheckpoint(path)).Message);
    }

    [Fact]
    public void ResumeWithOtherSettings_IsRefusedNamingThem()
    {
        // Before: a resume checked only the seed and the epochs, so another batch size continued silently.
        string checkpoint = _dir.File("resume-settings.ckpt");
        var data = LabeledFolder.Scan(SmallSet);
        var task = new UpdateTask(_fixture.Load(), data, options: Options() with { CheckpointPath = checkpoint, CheckpointEvery = 1, Epochs = 2 });
        Assert.Equal(TrainingState.Completed, task.Run().State);

        var e = Assert.Throws<TailorException>(() =>
            new UpdateTask(_fixture.Load(), data, options: Options() with { ResumeFrom = checkpoint, BatchSize = 2, LearningRate = 0.02 }).Run());
        Assert.Contains("batch_size 4 (this run: 2)", e.Message);
        Assert.Contains("learning_rate 0.01 (this run: 0.02)", e.Message);
    }

    [Fact]
    public void Schedule_ParsedOnce_FallsOverTheRunsEpochs()
    {
        var cosine = LearningRateSchedule.Parse("cosine");
        Assert.Equal(0.05, cosine.LearningRateAt(5, 10, 0.1), 12);
        Assert.Equal(0.1 * (1 + Math.Cos(Math.PI * 5 / 40)) / 2, cosine.LearningRateAt(5, 40, 0.1), 12);
        Assert.Equal("cosine", cosine.ToString());
        Assert.Equal("cosine:0.001", LearningRateSchedule.Parse("cosine:0.001").ToString());
        Assert.Equal("step:3:0.5", LearningRateSchedule.Parse("step:3:0.5").ToString());
        Assert.Throws<InvalidOperationException>(() => cosine.LearningRateAt(1, 0.1));

        using var plan = TrainingPlan.Create(_fixture.Load(), LabeledFolder.Scan(SmallSet), Options(epochs: 20) with { Schedule = cosine });
        Assert.Equal(0.01 * (1 + Math.Cos(Math.PI * 5 / 20)) / 2, plan.Settings.LearningRateAt(5), 12);
    }
}
