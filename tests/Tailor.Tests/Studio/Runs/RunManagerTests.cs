using System.Diagnostics;
using Tailor.Data;
using Tailor.Heads;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Tests.Studio.Runs;

/// <summary>Studio runs over the hands photos, with an in-memory store.</summary>
[Trait("Category", "Slow")]
public sealed class RunManagerTests(PreparedModelFixture prepared) : IClassFixture<PreparedModelFixture>
{
    private const long Project = 1;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    private MemoryRunStore Store(LabeledFolder? train = null) =>
        new(prepared.Load(), train ?? LabeledFolder.Scan(TestData.HandsTrain), LabeledFolder.Scan(TestData.HandsTest));

    private static async Task<RunStatus> RunToEnd(RunManager runs, RunRequest request)
    {
        runs.Start(Project, request);
        await runs.WhenEnded(Project).WaitAsync(Patience);
        return runs.Status(Project)!;
    }

    /// <summary>Classifier only: the features are cut at the classifier's input, so runs take a few seconds.</summary>
    private static readonly RunRequest Quick = new() { Layers = RunLayers.ClassifierOnly, Epochs = 2 };

    [Fact]
    public async Task NetworkRun_CommitsItsModel_AndStartAgainContinuesTheHistory()
    {
        var store = Store();
        using var runs = new RunManager(store);

        var first = await RunToEnd(runs, new RunRequest { Epochs = 2 });   // the default layers (the convolution fine-tuned)

        Assert.Equal(RunState.Finished, first.State);
        Assert.Null(first.Message);
        var commit = Assert.Single(store.Commits);
        Assert.Equal(commit.VersionId, first.ModelVersionId);
        Assert.Equal([1, 2], store.Epochs[first.RunId].Select(e => e.Epoch));
        Assert.All(store.Epochs[first.RunId], e => Assert.True(e.ValidationLoss is not null && e.ValidationAccuracy is not null));
        Assert.Equal(store.Epochs[first.RunId][^1].ValidationAccuracy, first.Accuracy);
        Assert.Equal((TrainingState.Completed, (string?)null, first.ModelVersionId), store.Ends[first.RunId]);
        // The model trained is the committed one: the updatable layers are still those of the spec.
        Assert.Equal(prepared.Load().Spec.UpdatableLayers.Select(l => l.Name), store.Current.Spec.UpdatableLayers.Select(l => l.Name));

        var second = await RunToEnd(runs, Quick);

        Assert.Equal(RunState.Finished, second.State);
        Assert.Equal(3, second.FirstEpoch);
        Assert.Equal([3, 4], store.Epochs[second.RunId].Select(e => e.Epoch));
        Assert.Equal([1, 2, 3, 4], second.History.Select(e => e.Epoch));
        // A subscriber after the end gets the whole state, the earlier run's epochs included.
        var events = await Collect(runs.Subscribe(Project));
        var state = Assert.Single(events);
        Assert.Equal([1, 2, 3, 4], state.Status!.History.Select(e => e.Epoch));
    }

    [Fact]
    public async Task KnnAndLogisticRegression_CommitAndReportTestAccuracy()
    {
        var store = Store();
        using var runs = new RunManager(store);

        var knn = await RunToEnd(runs, new RunRequest { Head = RunHead.Knn });

        Assert.Equal(RunState.Finished, knn.State);
        Assert.Equal(Tailor.Spec.HeadKind.KNearestNeighbors, store.Current.Spec.Head);
        // As the library's own test: 12/15 measured, at least 11 asserted (k = 5, no augmentation).
        Assert.True(knn.Accuracy >= 11 / 15.0 - 1e-9, $"k-NN accuracy {knn.Accuracy}");
        Assert.Equal(30, KnnOnnxExport.Read(store.Current.Proto).Count);

        // Again: the k-NN starts from the base model and stores the 30 photos once, not 60.
        var again = await RunToEnd(runs, new RunRequest { Head = RunHead.Knn, K = 3 });
        Assert.Equal(RunState.Finished, again.State);
        Assert.Equal(30, KnnOnnxExport.Read(store.Current.Proto).Count);

        // Logistic regression on a project whose current model is a k-NN starts from the base model too.
        var logreg = await RunToEnd(runs, new RunRequest { Head = RunHead.LogisticRegression });
        Assert.Equal(RunState.Finished, logreg.State);
        Assert.Equal(Tailor.Spec.HeadKind.LogisticRegression, store.Current.Spec.Head);
        Assert.True(logreg.Accuracy >= 12 / 15.0 - 1e-9, $"logistic regression accuracy {logreg.Accuracy}");
        Assert.Equal(3, store.Commits.Count);

        // Finished runs let go of their models (only the store's committed copies remain).
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.Equal(0, store.Handed.Count(w => w.TryGetTarget(out var m) && !store.Commits.Any(c => ReferenceEquals(c.Model, m))));
    }

    [Fact]
    public async Task SetLearningRate_ChangesTheRateOfLaterEpochsOnly()
    {
        var store = Store();
        using var runs = new RunManager(store);
        runs.Published += e =>
        {
            if (e is { Kind: RunEvent.BatchKind, Epoch: 1, Batch: 1 }) runs.SetLearningRate(Project, 0.0007);
        };
        var events = new List<RunEvent>();

        runs.Start(Project, Quick with { Epochs = 3 });
        var reading = Collect(runs.Subscribe(Project));
        await runs.WhenEnded(Project).WaitAsync(Patience);
        events.AddRange(await reading.WaitAsync(Patience));

        var rates = store.Epochs[1].Select(e => e.LearningRate).ToList();
        Assert.Equal(TrainingDefaults.AdamLearningRate, rates[0]);   // the cosine schedule's first epoch: the base rate
        Assert.Equal([0.0007, 0.0007], rates.Skip(1));               // not the schedule's values for epochs 2 and 3
        var changed = Assert.Single(events, e => e.Kind == RunEvent.LearningRateKind);
        Assert.Equal((0.0007, 2), (changed.LearningRate!.Value, changed.Epoch!.Value));
    }

    [Fact]
    public async Task SetLearningRate_BeforeTheFirstEpoch_TakesOverFromTheScheduleAtOnce()
    {
        var store = Store();
        using var runs = new RunManager(store);
        bool set = false;
        runs.Published += e =>
        {
            if (e.Kind == RunEvent.FeaturesKind && !set)
            {
                set = true;
                runs.SetLearningRate(Project, 0.002);
            }
        };

        var status = await RunToEnd(runs, Quick);

        Assert.True(set);
        Assert.Equal(RunState.Finished, status.State);
        Assert.Equal([0.002, 0.002], store.Epochs[status.RunId].Select(e => e.LearningRate));
    }

    [Fact]
    public async Task SetLearningRate_OutsideTheAllowedValues_IsRefusedNamingThem()
    {
        var store = Store();
        using var runs = new RunManager(store);
        runs.Start(Project, Quick);
        try
        {
            var e = Assert.Throws<TailorException>(() => runs.SetLearningRate(Project, 5));
            Assert.Contains("learning_rate = 5", e.Message);
            Assert.Contains("allowed", e.Message);
            // And a second Start while it runs names the run going on.
            var again = Assert.Throws<TailorException>(() => runs.Start(Project, Quick));
            Assert.Contains($"A run is already going on project {Project} (run 1, ", again.Message);
        }
        finally
        {
            runs.Stop(Project);
        }
        await runs.WhenEnded(Project).WaitAsync(Patience);
        Assert.Throws<TailorException>(() => runs.SetLearningRate(Project, 0.001));   // no run going on
    }

    [Fact]
    public void Start_RefusesSettingsOutsideTheModelsAllowedValues()
    {
        using var runs = new RunManager(Store());
        Assert.Contains("learning_rate = 2", Assert.Throws<TailorException>(() => runs.Start(Project, Quick with { LearningRate = 2 })).Message);
        Assert.Contains("epochs = 0", Assert.Throws<TailorException>(() => runs.Start(Project, Quick with { Epochs = 0 })).Message);
        Assert.Contains("k = 0", Assert.Throws<TailorException>(() => runs.Start(Project, new RunRequest { Head = RunHead.Knn, K = 0 })).Message);
        Assert.Contains("ChosenLayers", Assert.Throws<TailorException>(() => runs.Start(Project, new RunRequest { Layers = RunLayers.Chosen })).Message);
        Assert.Null(runs.Status(Project));   // nothing started
    }

    [Fact]
    public async Task Stop_DuringEpoch2_CommitsEpoch1sWeights_AsARunOfOneEpoch()
    {
        var stoppedStore = Store();
        using (var runs = new RunManager(stoppedStore))
        {
            runs.Published += e =>
            {
                if (e is { Kind: RunEvent.BatchKind, Epoch: 2, Batch: 1 }) runs.Stop(Project);
            };
            var stopped = await RunToEnd(runs, Quick);
            Assert.Equal(RunState.Stopped, stopped.State);
            Assert.Contains("epoch 1 is committed", stopped.Message);
            Assert.Equal(TrainingState.Cancelled, stoppedStore.Ends[stopped.RunId].State);
            Assert.Equal([1], stoppedStore.Epochs[stopped.RunId].Select(e => e.Epoch));
            Assert.NotNull(stopped.ModelVersionId);
        }
        var oneStore = Store();
        using (var runs = new RunManager(oneStore))
            Assert.Equal(RunState.Finished, (await RunToEnd(runs, Quick with { Epochs = 1 })).State);

        var classifier = prepared.Load().Spec.UpdatableLayers.Single(l => l.Name == prepared.Load().Spec.Classifier);
        foreach (var parameter in classifier.Parameters)
        {
            var weights = stoppedStore.Current.GetParameter(parameter);
            Assert.Equal(oneStore.Current.GetParameter(parameter), weights);
            Assert.NotEqual(prepared.Load().GetParameter(parameter), weights);
        }
    }

    [Fact]
    public async Task Stop_BeforeAnEpochFinished_CommitsNothing_AndSaysSo()
    {
        var store = Store();
        using var runs = new RunManager(store);
        runs.Published += e =>
        {
            if (e.Kind == RunEvent.FeaturesKind) runs.Stop(Project);
        };

        var status = await RunToEnd(runs, Quick);

        Assert.Equal(RunState.Stopped, status.State);
        Assert.Null(status.ModelVersionId);
        Assert.Contains("nothing was committed", status.Message);
        Assert.Empty(store.Commits);
    }

    [Fact]
    public async Task Subscriber_GetsBatchesThrottled_AndEveryEpochAndTheEnd()
    {
        var store = Store();
        using var runs = new RunManager(store);
        // 120 batches (30 photos × 4 variants) of one, each a step of the fine-tuned convolution: the epoch lasts long
        // enough (over a second) for several batch events to be handed out.
        var request = new RunRequest { Epochs = 1, BatchSize = 1 };
        int batches = 0;
        runs.Published += e =>
        {
            if (e.Kind == RunEvent.BatchKind) Interlocked.Increment(ref batches);
        };

        runs.Start(Project, request);
        var received = new List<(TimeSpan At, RunEvent Event)>();
        var clock = Stopwatch.StartNew();
        await foreach (var e in runs.Subscribe(Project).WithCancellation(new CancellationTokenSource(Patience).Token)) received.Add((clock.Elapsed, e));
        var events = received.Select(r => r.Event).ToList();

        Assert.Equal(RunEvent.StateKind, events[0].Kind);
        Assert.Equal(RunEvent.FinishedKind, events[^1].Kind);
        Assert.Equal([1], events.Where(e => e.Kind == RunEvent.EpochKind).Select(e => e.Record!.Epoch));
        var delivered = received.Where(r => r.Event.Kind == RunEvent.BatchKind).Select(r => r.At).ToList();
        Assert.Equal(120, batches);
        Assert.True(delivered.Count >= 2, $"{delivered.Count} batch events delivered");
        Assert.True(delivered.Count < batches, $"{delivered.Count} of {batches} batches delivered");
        // At most 10 a second: handed out at least 100 ms apart. Measured where the events arrive, one can come late (the
        // reading thread preempted on a busy machine) and the next seem early, so the test checks the mean gap, with 10%.
        double span = (delivered[^1] - delivered[0]).TotalMilliseconds;
        Assert.True(span >= 90 * (delivered.Count - 1), $"{delivered.Count} batch events in {span:F0} ms");
        Assert.Equal(0, runs.SubscriberCount(Project));
    }

    [Fact]
    public async Task Subscriber_ThatNeverReads_DoesNotStallTheRun_AndLeavingReleasesIt()
    {
        var store = Store();
        using var runs = new RunManager(store);
        runs.Start(Project, Quick with { BatchSize = 1 });
        await using var idle = runs.Subscribe(Project).GetAsyncEnumerator();
        Assert.True(await idle.MoveNextAsync());   // the state; then never read again
        var left = runs.Subscribe(Project).GetAsyncEnumerator();
        Assert.True(await left.MoveNextAsync());
        Assert.Equal(2, runs.SubscriberCount(Project));
        await left.DisposeAsync();   // a closed tab
        Assert.Equal(1, runs.SubscriberCount(Project));

        await runs.WhenEnded(Project).WaitAsync(Patience);

        Assert.Equal(RunState.Finished, runs.Status(Project)!.State);
        Assert.Single(store.Commits);
        // What it did not read is still there, ending with the finished event.
        var rest = new List<RunEvent>();
        while (await idle.MoveNextAsync()) rest.Add(idle.Current);
        Assert.Equal(RunEvent.FinishedKind, rest[^1].Kind);
        Assert.Equal(2, rest.Count(e => e.Kind == RunEvent.EpochKind));
    }

    [Fact]
    public async Task BadImage_IsSkippedAndNamed_TheRunFinishes()
    {
        string dir = Directory.CreateTempSubdirectory("tailor-runs").FullName;
        try
        {
            string bad = Path.Combine(dir, "broken.jpg");
            File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02]);
            var hands = LabeledFolder.Scan(TestData.HandsTrain);
            var train = LabeledFolder.FromExamples([.. hands.Examples, new LabeledExample(bad, hands.Labels[0])], dir);
            var store = Store(train);
            using var runs = new RunManager(store);

            var status = await RunToEnd(runs, Quick with { Epochs = 1 });

            Assert.Equal(RunState.Finished, status.State);
            Assert.Contains("Skipped 1 unreadable image", status.Message);
            Assert.Contains("broken.jpg", status.Message);
            Assert.Single(store.Commits);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task ChosenLayer_TrainsOnlyIt()
    {
        var store = Store();
        var spec = prepared.Load().Spec;
        string conv = spec.UpdatableLayers.First(l => l.Name != spec.Classifier).Name;
        using var runs = new RunManager(store);

        var status = await RunToEnd(runs, new RunRequest { Layers = RunLayers.Chosen, ChosenLayers = [spec.Classifier], Epochs = 1 });

        Assert.Equal(RunState.Finished, status.State);
        var before = prepared.Load();
        var convWeight = spec.UpdatableLayers.First(l => l.Name == conv).Parameters[0];
        Assert.Equal(before.GetParameter(convWeight), store.Current.GetParameter(convWeight));
        var classifierWeight = spec.UpdatableLayers.First(l => l.Name == spec.Classifier).Parameters[0];
        Assert.NotEqual(before.GetParameter(classifierWeight), store.Current.GetParameter(classifierWeight));

        var unknown = await RunToEnd(runs, new RunRequest { Layers = RunLayers.Chosen, ChosenLayers = ["Nope"], Epochs = 1 });
        Assert.Equal(RunState.Failed, unknown.State);
        Assert.Contains("'Nope' is not one of the model's updatable layers", unknown.Message);
    }

    private static async Task<List<RunEvent>> Collect(IAsyncEnumerable<RunEvent> events)
    {
        var list = new List<RunEvent>();
        await foreach (var e in events) list.Add(e);
        return list;
    }
}
