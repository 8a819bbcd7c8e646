using Tailor.Building;
using Tailor.Data;
using Tailor.Images;
using Tailor.Tests.Cli;
using Tailor.Tests.Images;
using Tailor.Training;
using Tailor.Training.Optimizers;

namespace Tailor.Tests.Training;

/// <summary>
/// The update task end to end on real photos (two per label from the hands training set, so a run takes
/// well under a second after the features): events, determinism, cancellation, divergence, resume in a
/// new process, allowed values, and labels taking free slots.
/// </summary>
[Trait("Category", "Slow")]
public sealed class UpdateTaskTests : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly PreparedModelFixture _fixture;
    private readonly TempFolder _dir = new();

    public UpdateTaskTests(PreparedModelFixture fixture)
    {
        _fixture = fixture;
        // Two photos of each of the three labels.
        SmallSet = MakeFolder("small", ("✊", "✊", 2), ("✋", "✋", 2), ("✌️", "✌️", 2));
    }

    private string SmallSet { get; }

    public void Dispose() => _dir.Dispose();

    /// <summary>Copies the first <c>count</c> hands training photos of <c>source</c> into DIR/<c>label</c>/
    /// (a temporary folder; the data set itself is only read).</summary>
    private string MakeFolder(string name, params (string Source, string Label, int Count)[] parts) => _dir.HandsSubset(name, parts);

    // No augmentation: the tests count rows and batches of the photos as they are (a prepared model's own
    // default would add variants).
    private static TrainingOptions Options(int epochs = 4) => new() { Epochs = epochs, BatchSize = 4, LearningRate = 0.01, Augmentation = AugmentationOptions.None };

    [Fact]
    public void Events_ComeInOrder_WithEpochMeanAndLastBatchLoss_AndCompletionOnce()
    {
        var model = _fixture.Load();
        var task = new UpdateTask(model, LabeledFolder.Scan(SmallSet), LabeledFolder.Scan(SmallSet), Options(epochs: 3));
        var log = new List<string>();
        var batchLosses = new List<(int Epoch, double Loss, int Size)>();
        var epochs = new List<EpochRecord>();
        task.TrainingBegan += (_, e) => log.Add($"began {e.Examples}x{e.Variants} batch {e.BatchSize}");
        task.MiniBatchEnded += (_, e) => { log.Add($"batch {e.Epoch}.{e.BatchIndex}/{e.BatchCount}"); batchLosses.Add((e.Epoch, e.Loss, e.BatchSize)); };
        task.EpochEnded += (_, e) => { log.Add($"epoch {e.Epoch}"); epochs.Add(e); };
        task.Completed += (_, e) => log.Add($"completed {e.State} {e.EpochsCompleted}");

        var result = task.Run();

        Assert.Equal(TrainingState.Completed, result.State);
        // 6 examples in batches of 4: a full batch and a smaller last batch of 2 (not dropped, not padded).
        Assert.Equal(
        [
            "began 6x1 batch 4",
            "batch 1.0/2", "batch 1.1/2", "epoch 1",
            "batch 2.0/2", "batch 2.1/2", "epoch 2",
            "batch 3.0/2", "batch 3.1/2", "epoch 3",
            "completed Completed 3",
        ], log);
        Assert.Equal([4, 2, 4, 2, 4, 2], batchLosses.Select(b => b.Size));
        foreach (var e in epochs)
        {
            var batches = batchLosses.Where(b => b.Epoch == e.Epoch).ToList();
            Assert.Equal(batches[^1].Loss, e.TrainLossLastBatch);
            Assert.Equal(batches.Sum(b => b.Loss * b.Size) / 6, e.TrainLossMean, 12);
            Assert.NotNull(e.ValidationLoss);
        }
        Assert.True(epochs[^1].TrainLossMean < epochs[0].TrainLossMean, "training lowers the loss");
        Assert.Equal(3, result.History.Epochs.Count);
    }

    [Fact]
    public void SameSeedAndData_GiveBitIdenticalWeights_AndAnotherSeedDoesNot()
    {
        float[] Train(int seed)
        {
            var model = _fixture.Load();
            var options = Options() with { Seed = seed, Augmentation = AugmentationOptions.Parse("flip,rotate:15,variants:2") };
            Assert.Equal(TrainingState.Completed, new UpdateTask(model, LabeledFolder.Scan(SmallSet), options: options).Run().State);
            return model.GetParameter("classifier.weight");
        }
        var a = Train(7);
        var b = Train(7);
        var c = Train(8);
        Assert.Equal(CheckpointTests.BitsOf(a), CheckpointTests.BitsOf(b));
        Assert.NotEqual(CheckpointTests.BitsOf(a), CheckpointTests.BitsOf(c));
        Assert.NotEqual(CheckpointTests.BitsOf(a), CheckpointTests.BitsOf(_fixture.Load().GetParameter("classifier.weight")));
    }

    [Fact]
    public void Epochs_AllocateAlmostNothing_OnceWarm_WhileFineTuningAConvolution()
    {
        // The prepared model trains Convolution387 (2.4 M weights; Adam keeps 19 MB of state for it): a copy of the
        // weights or of the optimizer state made per epoch (the snapshot that cancel restores once did) shows here
        // as megabytes per epoch. The loop and its events run on this thread.
        var model = _fixture.Load();
        Assert.Contains(model.Spec.UpdatableLayers, l => l.Name == "Convolution387");
        var task = new UpdateTask(model, LabeledFolder.Scan(SmallSet), options: Options(epochs: 6));
        var allocated = new List<long>();
        task.EpochEnded += (_, _) => allocated.Add(GC.GetAllocatedBytesForCurrentThread());

        Assert.Equal(TrainingState.Completed, task.Run().State);

        long perEpoch = (allocated[^1] - allocated[1]) / (allocated.Count - 2);
        Assert.True(perEpoch < 64 * 1024, $"An epoch after the first two allocated {perEpoch:N0} bytes.");
    }

    [Fact]
    public async Task Cancel_DuringTraining_ReportsCancelled_KeepsTheLastEpoch_AndWritesACheckpoint()
    {
        var model = _fixture.Load();
        string checkpoint = _dir.File("cancel.ckpt");
        using var cts = new CancellationTokenSource();
        var task = new UpdateTask(model, LabeledFolder.Scan(SmallSet), options: Options(epochs: 10) with { CheckpointPath = checkpoint });
        float[]? weightsAfterEpoch2 = null;
        task.EpochEnded += (_, e) =>
        {
            if (e.Epoch != 2) return;
            weightsAfterEpoch2 = task.Context.Parameters.Single(p => p.Name == "classifier.weight").Value.ToArray();
            cts.Cancel();
        };
        TrainingCompletedEventArgs? completed = null;
        task.Completed += (_, e) => completed = e;

        var result = await task.RunAsync(cts.Token);

        Assert.Equal(TrainingState.Cancelled, result.State);
        Assert.Equal(2, result.EpochsCompleted);
        Assert.Contains("epoch 2 are kept", result.Reason);
        Assert.Equal(TrainingState.Cancelled, completed!.State);
        Assert.Equal(CheckpointTests.BitsOf(weightsAfterEpoch2!), CheckpointTests.BitsOf(model.GetParameter("classifier.weight")));
        var saved = Checkpoint.Read(checkpoint);
        Assert.Equal(2, saved.EpochsCompleted);
        Assert.Equal(CheckpointTests.BitsOf(weightsAfterEpoch2!), CheckpointTests.BitsOf(saved.Parameters.Single(p => p.Name == "classifier.weight").Values));
    }

    [Fact]
    public async Task Cancel_BeforeTheFirstEpoch_StillReportsCompletion_AndChangesNothing()
    {
        var model = _fixture.Load();
        var before = model.GetParameter("classifier.weight");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var task = new UpdateTask(model, LabeledFolder.Scan(SmallSet), options: Options());
        var states = new List<TrainingState>();
        task.Completed += (_, e) => states.Add(e.State);

        var result = await task.RunAsync(cts.Token);

        Assert.Equal(TrainingState.Cancelled, result.State);
        Assert.Equal(0, result.EpochsCompleted);
        Assert.Equal([TrainingState.Cancelled], states);
        Assert.Equal(before, model.GetParameter("classifier.weight"));
    }

    [Fact]
    public void ResumeInANewProcess_GivesTheWeightsOfAnUninterruptedRun()
    {
        var data = LabeledFolder.Scan(SmallSet);
        // Uninterrupted: 4 epochs of Adam (its moment estimates must survive the checkpoint too).
        var straight = _fixture.Load();
        Assert.Equal(TrainingState.Completed, new UpdateTask(straight, data, options: Options(epochs: 4)).Run().State);

        // Interrupted after epoch 2 in this process…
        var first = _fixture.Load();
        string checkpoint = _dir.File("resume.ckpt"), partial = _dir.File("partial.onnx"), resumed = _dir.File("resumed.onnx");
        var task = new UpdateTask(first, data, options: Options(epochs: 4) with { CheckpointPath = checkpoint });
        task.EpochEnded += (_, e) => { if (e.Epoch == 2) task.Context.Stop(); };
        Assert.Equal(TrainingState.Cancelled, task.Run().State);
        first.Save(partial);

        // …and finished by the command line in another process.
        var r = CliRunner.Run("train", partial, "--data", SmallSet, "--resume", checkpoint, "--epochs", "4", "--batch", "4", "--lr", "0.01",
            "--augment", "none", "--out", resumed, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);

        var expected = straight.GetParameter("classifier.weight");
        Assert.NotEqual(CheckpointTests.BitsOf(expected), CheckpointTests.BitsOf(first.GetParameter("classifier.weight")));
        Assert.Equal(CheckpointTests.BitsOf(expected), CheckpointTests.BitsOf(UpdatableModel.Load(resumed).GetParameter("classifier.weight")));
        Assert.Equal(CheckpointTests.BitsOf(straight.GetParameter("classifier.bias")), CheckpointTests.BitsOf(UpdatableModel.Load(resumed).GetParameter("classifier.bias")));
    }

    [Fact]
    public void DivergingLoss_FailsWithEpochBatchAndHint_KeepingTheLastGoodEpoch()
    {
        var model = _fixture.Load();
        string checkpoint = _dir.File("diverged.ckpt");
        var task = new UpdateTask(model, LabeledFolder.Scan(SmallSet), options: Options(epochs: 5) with { CheckpointPath = checkpoint });
        float[]? good = null;
        // Annealing from a handler is allowed; an absurd rate makes the weights overflow in epoch 3.
        task.EpochEnded += (_, e) =>
        {
            if (e.Epoch != 2) return;
            good = task.Context.Parameters.Single(p => p.Name == "classifier.weight").Value.ToArray();
            var adam = Assert.IsType<Adam>(task.Context.Optimizer);
            adam.LearningRate = 1e38;
        };

        var result = task.Run();

        Assert.Equal(TrainingState.Failed, result.State);
        Assert.Equal(2, result.EpochsCompleted);
        Assert.Matches(@"The loss became (NaN|∞|-?Infinity) at epoch 3, batch \d of 2: training diverged\. Lower the learning rate", result.Reason);
        // The same facts, typed, for a caller that words its own hint (the studio).
        var diverged = Assert.IsType<TrainingDivergence>(result.Diverged);
        Assert.Equal((3, 2, 1e38), (diverged.Epoch, diverged.BatchCount, diverged.LearningRate));
        Assert.InRange(diverged.Batch, 1, 2);
        Assert.False(double.IsFinite(diverged.Loss));
        Assert.Equal(CheckpointTests.BitsOf(good!), CheckpointTests.BitsOf(model.GetParameter("classifier.weight")));
        Assert.Equal(2, Checkpoint.Read(checkpoint).EpochsCompleted);
    }

    [Theory]
    [InlineData(double.NaN, "learning_rate")]
    [InlineData(-0.5, "learning_rate")]
    [InlineData(2.0, "learning_rate")]
    public void LearningRateOutsideTheAllowedValues_IsRejectedBeforeTraining(double lr, string name)
    {
        var model = _fixture.Load();
        var before = model.GetParameter("classifier.weight");
        var e = Assert.Throws<TailorException>(() => new UpdateTask(model, LabeledFolder.Scan(SmallSet), options: Options() with { LearningRate = lr }).Run());
        Assert.Contains(name, e.Message);
        Assert.Contains("[0, 1]", e.Message);
        Assert.Equal(before, model.GetParameter("classifier.weight"));
    }

    [Fact]
    public void BatchSizeOutsideTheAllowedSet_ListsTheAllowedValues()
    {
        var e = Assert.Throws<TailorException>(() => new UpdateTask(_fixture.Load(), LabeledFolder.Scan(SmallSet), options: Options() with { BatchSize = 3 }).Run());
        Assert.Contains("batch_size", e.Message);
        Assert.Contains("3", e.Message);
        Assert.Contains("{1, 2, 4, 8, 16, 32, 64}", e.Message);
    }

    [Fact]
    public void ReferencePreset_AllowsOnlyItsEpochs()
    {
        var model = ModelBuilder.Prepare(PrepareOptions.Reference with { Labels = ["✊", "✋", "✌️"], Capacity = 10 });
        var e = Assert.Throws<TailorException>(() => new UpdateTask(model, LabeledFolder.Scan(SmallSet), options: new TrainingOptions { Epochs = 20 }).Run());
        Assert.Contains("epochs", e.Message);
        Assert.Contains("{1, 10, 50}", e.Message);
    }

    [Fact]
    public void NewLabel_TakesTheNextFreeSlot_AndIsPredictable()
    {
        // "👍" is four more photos of the open hand under a new name: the model learns it in slot 3 (user0).
        string data = MakeFolder("newlabel", ("✊", "✊", 2), ("✋", "✋", 2), ("✌️", "✌️", 2), ("✋", "👍", 2));
        var model = _fixture.Load();
        Assert.Equal("user0", model.Spec.Labels.Names[3]);

        var result = new UpdateTask(model, LabeledFolder.Scan(data), options: Options(epochs: 2)).Run();

        Assert.Equal(TrainingState.Completed, result.State);
        Assert.Equal(3, result.NewLabels["👍"]);
        Assert.Equal("👍", model.Spec.Labels.Names[3]);
        Assert.DoesNotContain(3, model.Spec.Labels.Placeholders);
        Assert.Equal(6, model.Spec.Labels.Placeholders.Count);
        // Saved and reloaded, the label is part of the model.
        string path = _dir.File("newlabel.onnx");
        model.Save(path);
        Assert.Equal("👍", UpdatableModel.Load(path).Spec.Labels.Names[3]);
    }

    [Fact]
    public void NewLabels_BeyondTheCapacity_FailBeforeTraining_StatingTheCapacity()
    {
        string data = MakeFolder("full", ("✊", "✊", 1), ("✋", "✋", 1), ("✌️", "✌️", 1), ("✋", "👍", 1));
        var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"], Capacity = 3 });
        var before = model.GetParameter("classifier.weight");

        var e = Assert.Throws<TailorException>(() => new UpdateTask(model, LabeledFolder.Scan(data), options: Options()).Run());

        Assert.Contains("'👍'", e.Message);
        Assert.Contains("capacity 3", e.Message);
        Assert.Contains("PrepareOptions.Capacity", e.Message);
        Assert.Equal(["✊", "✋", "✌️"], model.Spec.Labels.Names);
        Assert.Equal(before, model.GetParameter("classifier.weight"));
    }

    [Fact]
    public void UnreadableExample_FailsNamingIt_OrIsSkippedWhenAsked()
    {
        string data = MakeFolder("bad", ("✊", "✊", 2), ("✋", "✋", 2));
        string bad = Path.Combine(data, "✋", "broken.jpg");
        File.WriteAllText(bad, "not a picture");

        var failed = new UpdateTask(_fixture.Load(), LabeledFolder.Scan(data), options: Options()).Run();
        Assert.Equal(TrainingState.Failed, failed.State);
        Assert.Contains(bad, failed.Reason);
        Assert.Contains("SkipBadExamples", failed.Reason);

        var skipped = new UpdateTask(_fixture.Load(), LabeledFolder.Scan(data), options: Options() with { SkipBadExamples = true }).Run();
        Assert.Equal(TrainingState.Completed, skipped.State);
        Assert.Equal(bad, Assert.Single(skipped.Skipped).Path);
    }
}
