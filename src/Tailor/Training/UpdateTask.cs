using System.Diagnostics;
using Tailor.Building;
using Tailor.Data;
using Tailor.Features;
using Tailor.Training.Optimizers;

namespace Tailor.Training;

/// <summary>
/// Personalizes an updatable model on a labelled folder, as Core ML's MLUpdateTask does — and goes past
/// it: the frozen prefix runs once per example (features are cached), any layer after the cut trains
/// (gradients flow through Concat, BatchNormalization, residual Adds), the epoch's mean loss is reported
/// beside the last batch's, weight decay and schedules are available, and a cancelled or failed task
/// keeps the weights and a checkpoint of the last completed epoch.
/// </summary>
/// <remarks>
/// Events are raised on the training thread, in this order: <see cref="FeaturesProgress"/> while the
/// prefix runs, <see cref="TrainingBegan"/>, then per epoch <see cref="MiniBatchEnded"/> for each batch
/// and <see cref="EpochEnded"/>, and <see cref="Completed"/> exactly once — also when cancelled or failed.
/// The model passed in is updated in place (weights, and labels that took a free slot) when the task ends with at
/// least one epoch's weights kept; until then, and when no epoch completed, it is unchanged. Save it after.
/// The task is a loop over <see cref="TrainingPlan"/> and <see cref="TrainingSession"/>, which an app can drive itself.
/// </remarks>
public sealed partial class UpdateTask
{
    private readonly UpdatableModel _model;
    private readonly LabeledFolder _train;
    private readonly LabeledFolder? _validation;
    private readonly TrainingOptions _options;
    private volatile bool _stopRequested;

    // Set up by Run.
    private TrainingPlan? _plan;
    private TrainingSession? _session;
    private TrainingData? _data;
    private int _keptCount;

    /// <summary>Creates a task; nothing runs until <see cref="RunAsync"/>.</summary>
    public UpdateTask(UpdatableModel model, LabeledFolder train, LabeledFolder? validation = null, TrainingOptions? options = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _train = train ?? throw new ArgumentNullException(nameof(train));
        _validation = validation;
        _options = options ?? new TrainingOptions();
        Context = new TrainingContext(this);
    }

    /// <summary>What handlers can see and change (live model, parameters, optimizer).</summary>
    public TrainingContext Context { get; }

    public event EventHandler<FeatureProgress>? FeaturesProgress;
    public event EventHandler<TrainingBeganEventArgs>? TrainingBegan;
    public event EventHandler<MiniBatchEndedEventArgs>? MiniBatchEnded;
    /// <summary>Raised after every epoch with its <see cref="EpochRecord"/> (the one the history saves): the epoch's
    /// mean loss over all its examples beside the last mini-batch's alone (what Core ML reports as "the" loss).</summary>
    public event EventHandler<EpochRecord>? EpochEnded;
    public event EventHandler<TrainingCompletedEventArgs>? Completed;

    internal Optimizer Optimizer => _session?.Optimizer ?? throw new InvalidOperationException("The task has not started training.");

    internal IReadOnlyList<ITrainableParameter> Parameters => _session?.Parameters ?? [];

    internal void RequestStop() => _stopRequested = true;

    /// <summary>Writes a checkpoint of the weights as they are now (from an <see cref="EpochEnded"/> handler: that epoch's),
    /// for a caller that records the epoch elsewhere first (the studio: its database, then the checkpoint).</summary>
    internal void SaveCheckpoint(string path, int epochsCompleted) =>
        (_session ?? throw new InvalidOperationException("The task has not started training.")).SaveCheckpoint(path, epochsCompleted);

    /// <summary>Runs the task on a worker thread.</summary>
    /// <exception cref="TailorException">Bad options or data found before training starts (a value outside
    /// the model's allowed values, a label beyond the capacity, an op the engine cannot train…).</exception>
    public Task<TrainingResult> RunAsync(CancellationToken cancellationToken = default) =>
        Task.Run(() => Run(cancellationToken), CancellationToken.None);

    /// <summary>Runs the task on the calling thread; see <see cref="RunAsync"/>.</summary>
    public TrainingResult Run(CancellationToken cancellationToken = default)
    {
        using var plan = _plan = TrainingPlan.Create(_model, _train, _options, _validation);
        var history = new TrainingHistory();
        var clock = Stopwatch.StartNew();
        try
        {
            // The kept examples are checked against the prefix, then the trainable suffix is built: an op the engine
            // cannot train fails here, before the slow part.
            plan.Extractor();
            _session = new TrainingSession(plan);
            IProgress<FeatureProgress> progress = new SyncProgress(p => FeaturesProgress?.Invoke(this, p));
            var slots = plan.Slots;
            try
            {
                _data = plan.TryComputeFeatures(progress, cancellationToken, out string? failure);
                if (_data is null)
                    return Finish(TrainingState.Failed, failure, 0, history, clock.Elapsed.TotalSeconds);
            }
            catch (OperationCanceledException)
            {
                // Completion is always reported, cancellation included; no epoch ran, so the weights are untouched.
                return Finish(TrainingState.Cancelled, "Cancelled while computing the features; no epoch was trained and the weights are unchanged.",
                    0, history, clock.Elapsed.TotalSeconds);
            }
            // A label without a readable photo gave back its slot: the suffix's slot mask changed.
            if (!ReferenceEquals(slots, plan.Slots)) _session = new TrainingSession(plan);
            return Train(plan, _session, _data, history, cancellationToken);
        }
        finally
        {
            _data?.Dispose();
            // The engine's graph holds the batch activations, gradients and kept convolution columns (over 100 MB when
            // fine-tuning the default layers); the task keeps only what its context reports after the run.
            _session?.Dispose();
            // Those buffers are large objects that only a full collection frees, and nothing else in a task triggers
            // one; without it they stayed resident beside the next ONNX Runtime session (the README sample peaked at
            // 1.16 GB). Aggressive: the freed regions are returned to the system, not kept for reuse. One collection
            // per task, about a tenth of a second against seconds of training.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }

    private TrainingResult Train(TrainingPlan plan, TrainingSession session, TrainingData data, TrainingHistory history, CancellationToken cancellationToken)
    {
        var settings = plan.Settings;
        var train = data.Train;
        if (train.Count == 0)
            return Finish(TrainingState.Failed, "No training example could be read.", 0, history, data.Seconds);
        int maxBatch = Math.Min(settings.BatchSize, train.Count);

        int firstEpoch = 0;
        if (_options.ResumeFrom is { } resume)
        {
            // Checked before anything changes: a checkpoint of a longer run cannot continue this one.
            int done = Checkpoint.Read(resume).EpochsCompleted;
            if (done > settings.Epochs)
                throw new TailorException($"The checkpoint '{resume}' has {done} epochs done; this run asks for {settings.Epochs} in all.");
            firstEpoch = session.LoadCheckpoint(resume);
            var earlier = _options.ResumeHistory ?? (_options.HistoryPath is { } hp && File.Exists(hp) ? TrainingHistory.Load(hp) : null);
            if (earlier is not null)
            {
                history = new TrainingHistory();
                foreach (var e in earlier.Epochs.Where(e => e.Epoch <= firstEpoch)) history.Add(e);
            }
        }

        // The snapshot holds the weights the task hands back if it stops now: the last completed epoch's, or with
        // keep-best the epoch with the lowest validation loss (one copy either way, rewritten in place).
        var snapshot = new Snapshot(session.Parameters, session.Optimizer);
        bool validated = data.Validation is { Count: > 0 };
        var best = new BestEpoch(validated && (_options.KeepBest ?? DefaultHyperparameters.KeepBest), validated ? _options.Patience : 0, firstEpoch, history);
        int batchCount = (train.Count + maxBatch - 1) / maxBatch;
        double rateBefore = session.LearningRate;
        TrainingBegan?.Invoke(this, new TrainingBeganEventArgs(train.Count / train.Variants, train.Variants, settings.Epochs, maxBatch, firstEpoch + 1, plan.Slots.Labels.Names));
        int completed = firstEpoch;
        // A rate a TrainingBegan handler set takes over from the schedule from the first epoch on, as one set between epochs does.
        double? scheduledRate = session.LearningRate == rateBefore ? null : rateBefore;
        for (int epoch = firstEpoch; epoch < settings.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            // A handler that changed the learning rate between epochs (annealing by hand) takes over from the
            // schedule: the schedule sets the rate only while it is still the one the schedule set last.
            if (settings.Schedule is not null && (scheduledRate is null || session.LearningRate == scheduledRate))
                scheduledRate = session.LearningRate = settings.LearningRateAt(epoch);

            double lossSum = 0, lastLoss = 0;
            int correct = 0, b = 0;
            foreach (var batch in train.Batches(maxBatch, epoch))
            {
                if (cancellationToken.IsCancellationRequested || _stopRequested)
                    return Stop(TrainingState.Cancelled, $"Cancelled during epoch {epoch + 1}; the weights of epoch {best.Kept}{best.KeptWhy} are kept.",
                        snapshot, completed, best, history, data.Seconds);
                var result = session.TrainStep(batch);
                if (!double.IsFinite(result.Loss))
                {
                    // The rate is read before Stop restores the kept epoch's optimizer state (and its rate).
                    var diverged = new TrainingDivergence(epoch + 1, b + 1, batchCount, result.Loss, session.LearningRate);
                    return Stop(TrainingState.Failed,
                        $"The loss became {(float)result.Loss} at epoch {epoch + 1}, batch {b + 1} of {batchCount}: training diverged. " +
                        $"Lower the learning rate (it is {session.LearningRate}); the weights of epoch {best.Kept}{best.KeptWhy} are kept.",
                        snapshot, completed, best, history, data.Seconds) with { Diverged = diverged };
                }
                lossSum += result.Loss * result.Count;
                lastLoss = result.Loss;
                correct += result.Correct;
                if (MiniBatchEnded is { } handler)
                    handler(this, new MiniBatchEndedEventArgs(epoch + 1, b, batchCount, result.Count, result.Loss, result.Accuracy));
                b++;
            }

            completed = epoch + 1;
            var validation = Validate();
            var record = new EpochRecord(completed, lossSum / train.Count, lastLoss, correct / (double)train.Count,
                validation?.Loss, validation?.Accuracy, session.LearningRate, clock.Elapsed.TotalSeconds);
            history.Add(record);
            if (_options.HistoryPath is { } historyPath) history.Save(historyPath, Path.ChangeExtension(historyPath, ".csv"));
            if (best.Observe(completed, validation?.Loss)) snapshot.Capture(session.Parameters, session.Optimizer);
            if (_options.CheckpointEvery > 0 && completed % _options.CheckpointEvery == 0 && _options.CheckpointPath is { } cp)
                session.SaveCheckpoint(cp, completed);
            EpochEnded?.Invoke(this, record);
            if (best.PatienceRanOut(completed)) break;
        }
        // With keep-best the snapshot holds the best epoch; otherwise it is the last one, already in place.
        if (best.Kept != completed) snapshot.Restore(session.Parameters, session.Optimizer);
        Commit(best.Kept);
        return Finish(TrainingState.Completed, best.StopReason(completed, settings.Epochs), completed, history, data.Seconds, best);
    }

    /// <summary>Loss and accuracy on the validation features with the current weights.</summary>
    internal (double Loss, double Accuracy)? Validate()
    {
        if (_data?.Validation is not { } validation || _session is null) return null;
        // In batches of the training's size, in order: validating every epoch allocates nothing.
        return _session.Evaluate(validation, Math.Min(_plan!.Settings.BatchSize, _data.Train.Count));
    }

    /// <summary>Commits the result into the model when an epoch's weights are kept: the trained parameters, the labels
    /// that took slots and the live slots, what it was trained on; and keeps the examples when asked. Before that the
    /// model is unchanged (the plan and the session work on a copy).</summary>
    private void Commit(int keptEpoch)
    {
        if (keptEpoch <= 0 || _session is null || _plan is null || _data is null) return;
        var trained = _session.ExportModel();
        _model.SetSpec(trained.Spec with { TrainedExamples = _plan.Examples.Record(trained.Spec.Labels, _data.Unreadable) });
        _model.ReplaceProto(trained.Proto);
        if (_options.KeepExamplesPath is { } keep) _keptCount = _plan.Examples.Keep(keep, _data.Train.Cache, _data.Unreadable);
    }

    internal UpdatableModel SnapshotModel() =>
        _session?.ExportModel() ?? throw new InvalidOperationException("The task has not started training.");

    private TrainingResult Stop(TrainingState state, string reason, Snapshot snapshot, int completed, BestEpoch best, TrainingHistory history, double featureSeconds)
    {
        snapshot.Restore(_session!.Parameters, _session.Optimizer);
        // The checkpoint holds what the snapshot holds (with keep-best, the best epoch): resuming from it is exact.
        if (_options.CheckpointPath is { } cp && best.Kept > 0) _session.SaveCheckpoint(cp, best.Kept);
        Commit(best.Kept);
        return Finish(state, reason, completed, history, featureSeconds, best);
    }

    private TrainingResult Finish(TrainingState state, string? reason, int completed, TrainingHistory history, double featureSeconds, BestEpoch? best = null)
    {
        int kept = best?.Kept ?? completed;
        bool stoppedEarly = best?.StoppedEarly ?? false;
        history.KeptEpoch = kept > 0 ? kept : null;
        if (_options.HistoryPath is { } historyPath && history.Epochs.Count > 0) history.Save(historyPath, Path.ChangeExtension(historyPath, ".csv"));
        Completed?.Invoke(this, new TrainingCompletedEventArgs(state, reason, completed, kept, stoppedEarly));
        var plan = _plan!;
        return new TrainingResult
        {
            State = state, Reason = reason, EpochsCompleted = completed, KeptEpoch = kept, StoppedEarly = stoppedEarly, History = history,
            Skipped = _data?.Skipped ?? [], NewLabels = plan.Slots.NewLabels, FeatureSeconds = featureSeconds,
            Replayed = plan.Examples.Replayed, KeptExamples = _keptCount, Forgotten = plan.Examples.Forgotten,
            LabelsWithoutExamples = _data?.LabelsWithoutExamples ?? [], StartedOver = plan.StartsOver,
        };
    }

    private sealed class SyncProgress(Action<FeatureProgress> report) : IProgress<FeatureProgress>
    {
        public void Report(FeatureProgress value) => report(value);
    }
}
