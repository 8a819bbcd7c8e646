using System.Globalization;
using System.Runtime;
using Tailor.Data;
using Tailor.Features;
using Tailor.Heads;
using Tailor.Prediction;
using Tailor.Spec;
using Tailor.Training;

namespace Tailor.Studio.Runs;

/// <summary>
/// One run: its thread, its state and its subscribers. Every change of state happens under <see cref="_gate"/> together
/// with posting the event to the subscribers, so a subscriber attached at any moment gets the state once and then every
/// later event, none twice. When the run ends it lets go of the model, the data and the subscribers; only its status stays.
/// </summary>
internal sealed class Run
{
    private readonly IRunStore _store;
    private readonly Action<RunEvent> _published;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Subscriber> _subscribers = [];
    private readonly List<EpochRecord> _history;
    private readonly Hyperparameter? _learningRateDomain;
    private UpdatableModel? _model;
    private IReadOnlyList<string>? _layers;
    private RunStatus _status;
    private double? _pendingRate;
    private int _epochsBegun;   // epochs of this run that began (under _gate, with the pending rate applied as each began)
    private UpdateTask? _task;
    private readonly InterruptedRun? _resume;   // the interrupted run this one continues (same run id), or null

    public Run(IRunStore store, long projectId, long runId, RunRequest request, UpdatableModel model, IReadOnlyList<string>? layers,
        IReadOnlyList<EpochRecord> prior, Action<RunEvent> published, InterruptedRun? resume = null)
    {
        _store = store;
        _model = model;
        _layers = layers;
        _published = published;
        _resume = resume;
        int first = prior.Count == 0 ? 1 : prior[^1].Epoch + 1;
        _history = [.. prior, .. resume?.Epochs ?? []];
        bool network = request.Head == RunHead.NeuralNetwork;
        model.Spec.Hyperparameters.TryGetValue(HyperparameterNames.LearningRate, out _learningRateDomain);
        double? rate = network ? request.LearningRate ?? _learningRateDomain?.Default : null;
        _status = new RunStatus(runId, projectId, request, RunState.Preparing, resume?.EpochsDone ?? 0, network ? request.Epochs : 1, first, rate,
            [.. _history], null, null, null);
    }

    public Task Ended => _ended.Task;

    public int SubscriberCount
    {
        get { lock (_gate) return _subscribers.Count; }
    }

    public RunStatus Status()
    {
        lock (_gate) return _status;
    }

    public void Start()
    {
        var thread = new Thread(Execute) { IsBackground = true, Name = $"Tailor studio run {_status.RunId}" };
        thread.Start();
    }

    public bool RequestStop()
    {
        lock (_gate)
        {
            if (!_status.IsActive) return false;
            _stop.Cancel();
            return true;
        }
    }

    public (RunStatus Status, Subscriber? Subscriber) Attach()
    {
        lock (_gate)
        {
            if (!_status.IsActive) return (_status, null);
            var subscriber = new Subscriber();
            _subscribers.Add(subscriber);
            return (_status, subscriber);
        }
    }

    public void Detach(Subscriber subscriber)
    {
        lock (_gate) _subscribers.Remove(subscriber);
    }

    public void SetLearningRate(double rate)
    {
        lock (_gate)
        {
            if (_status.Request.Head != RunHead.NeuralNetwork)
                throw new TailorException($"Run {_status.RunId} fits a {(_status.Request.Head == RunHead.Knn ? "k-NN" : "logistic-regression")} head, which has no learning rate.");
            if (!_status.IsActive) throw new TailorException($"Run {_status.RunId} has ended; the learning rate applies to a running network run.");
            if (!double.IsFinite(rate) || rate < 0) throw new TailorException($"learning_rate = {rate}: give a finite number ≥ 0.");
            _learningRateDomain?.Check(HyperparameterNames.LearningRate, rate);
            _pendingRate = rate;
            // The epoch in progress keeps its rate; the next one (or the first, before any began) takes this one: the pending
            // rate is applied, under this lock, as each epoch begins, so counting those beginnings names it exactly.
            int from = _status.FirstEpoch + _epochsBegun;
            Publish(new RunEvent { Kind = RunEvent.LearningRateKind, RunId = _status.RunId, LearningRate = rate, Epoch = from });
        }
    }

    /// <summary>The rate asked for, applied on the training thread between epochs (or before the first).</summary>
    private void ApplyPendingRate(TrainingContext context)
    {
        double? rate;
        lock (_gate)
        {
            rate = _pendingRate;
            _pendingRate = null;
            _epochsBegun++;
        }
        if (rate is double r) context.Optimizer.LearningRate = r;
    }

    private void Publish(RunEvent e)
    {
        // Under _gate (held by the caller or taken here): the state and the subscribers' queues change together.
        lock (_gate)
        {
            foreach (var s in _subscribers) s.Post(e);
        }
        _published(e);
    }

    private void Update(Func<RunStatus, RunStatus> change, RunEvent? e = null)
    {
        lock (_gate)
        {
            _status = change(_status);
            if (e is not null) Publish(e);
        }
    }

    private void Execute()
    {
        var request = _status.Request;
        var token = _stop.Token;
        try
        {
            var (train, test) = _store.LoadData(_status.ProjectId);
            if (request.Head == RunHead.NeuralNetwork) TrainNetwork(train, test, token);
            else TrainHead(train, test, token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            End(RunState.Stopped, "Stopped before anything was trained; nothing was committed and the current model is unchanged.", null, null);
        }
        catch (Exception e)
        {
            // A run never takes the process down: the library's message (a bad image, a setting, a diverged loss) ends it.
            End(RunState.Failed, e is TailorException ? e.Message : $"The run failed: {e.GetType().Name}: {e.Message}", null, null);
        }
        finally
        {
            _model = null;
            _layers = null;
            _task = null;
            _stop.Dispose();
            // The model, the features and the engine's buffers are garbage now: hand them back to the system rather than
            // keep them committed until the studio's next run (about 200 MB after a network run on the hands photos).
            ReleaseMemory();
            _ended.TrySetResult();
        }
    }

    private void TrainNetwork(LabeledFolder train, LabeledFolder? test, CancellationToken token)
    {
        var model = _model!;
        var request = _status.Request;
        int before = _status.FirstEpoch - 1;   // epochs of the history before this run
        long runId = _status.RunId;
        // A checkpoint after every epoch (the studio's store keeps one per run): a run the process is killed during resumes
        // from its last epoch, the same as if it had never stopped (InterruptedRun, RunManager.Resume).
        string? checkpoint = _store.CheckpointPath(runId);
        var resumeHistory = new TrainingHistory();
        foreach (var e in _resume?.Epochs ?? []) resumeHistory.Add(e with { Epoch = e.Epoch - before });
        var options = new TrainingOptions
        {
            Epochs = request.Epochs,
            LearningRate = request.LearningRate,
            BatchSize = request.BatchSize,
            Seed = request.Seed,
            UpdatableLayers = _layers,
            // The test set validates every epoch (val.loss and val.acc, as the reference app shows), it does not choose the
            // epoch kept: the model committed is the last epoch's, the one the table ends with (and Stop keeps).
            KeepBest = false,
            // The workspace leaves out the images it knows are corrupt; one that still fails to decode is skipped and named.
            SkipBadExamples = true,
            ResumeFrom = _resume is { EpochsDone: > 0, CheckpointPath: { } from } ? from : null,
            ResumeHistory = _resume is { EpochsDone: > 0 } ? resumeHistory : null,
            Cache = FeatureOptions(_store.FeatureStore(_status.ProjectId)),
        };
        var task = _task = new UpdateTask(model, train, test, options);
        task.FeaturesProgress += (_, p) => Publish(new RunEvent { Kind = RunEvent.FeaturesKind, RunId = runId, Done = p.Done, Total = p.Total });
        task.TrainingBegan += (_, b) =>
        {
            // The feature pass is over (its ONNX Runtime session closed): its garbage goes before the epochs build on it.
            ReleaseMemory();
            ApplyPendingRate(task.Context);
            int batches = (b.Examples * b.Variants + b.BatchSize - 1) / b.BatchSize;
            double rate = task.Context.Optimizer.LearningRate;
            Update(s => s with { State = RunState.Training, LearningRate = rate },
                new RunEvent { Kind = RunEvent.BeganKind, RunId = runId, Epochs = b.Epochs, Batches = batches, LearningRate = rate });
        };
        task.MiniBatchEnded += (_, m) =>
        {
            if (m.BatchIndex == 0)
            {
                // The schedule (or a rate asked for) set this epoch's rate as it began.
                double rate = task.Context.Optimizer.LearningRate;
                Update(s => s with { Epoch = m.Epoch, LearningRate = rate });
            }
            Publish(new RunEvent { Kind = RunEvent.BatchKind, RunId = runId, Epoch = before + m.Epoch, Batch = m.BatchIndex + 1, Batches = m.BatchCount, Loss = m.Loss });
        };
        task.EpochEnded += (_, r) =>
        {
            var record = r with { Epoch = before + r.Epoch };
            _store.RecordEpoch(runId, record);
            // Recorded first, then checkpointed: a kill in between leaves the checkpoint one epoch behind the table, and
            // Resume trains that epoch again (the same) instead of continuing from weights whose epoch is not in the table.
            if (checkpoint is not null) task.SaveCheckpoint(checkpoint, r.Epoch);
            // An epoch's garbage (the engine's per-batch tensors, the validation pass) would otherwise be promoted and pile
            // up epoch after epoch under the garbage collector's budgets, sized for this machine's cache, not for a server.
            ReleaseMemory();
            ApplyPendingRate(task.Context);
            Update(s =>
            {
                _history.Add(record);
                return s with { History = [.. _history] };
            }, new RunEvent { Kind = RunEvent.EpochKind, RunId = runId, Epoch = record.Epoch, Record = record });
        };
        var result = task.Run(token);

        long? version = result.KeptEpoch > 0 ? _store.CommitModel(_status.ProjectId, runId, model) : null;
        double? accuracy = version is null ? null : _history.LastOrDefault(e => e.Epoch == before + result.KeptEpoch)?.ValidationAccuracy;
        var state = result.State switch
        {
            TrainingState.Completed => RunState.Finished,
            TrainingState.Cancelled => RunState.Stopped,
            _ => RunState.Failed,
        };
        string? reason = result.State switch
        {
            TrainingState.Cancelled when result.KeptEpoch == 0 => "Stopped before the first epoch finished; nothing was committed and the current model is unchanged.",
            TrainingState.Cancelled => $"Stopped during epoch {before + result.EpochsCompleted + 1}; the model of epoch {before + result.KeptEpoch} is committed.",
            _ when result.Diverged is { } diverged => DivergedMessage(diverged, before, version is null ? 0 : before + result.KeptEpoch, _learningRateDomain),
            _ => result.Reason,
        };
        End(state, Join(reason, Skipped(result.Skipped)), version, accuracy, result.EpochsCompleted);
    }

    private void TrainHead(LabeledFolder train, LabeledFolder? test, CancellationToken token)
    {
        var (version, skipped) = FitAndCommit(train, token);
        double? accuracy = null;
        if (test is not null)
        {
            // One model in memory at a time: the store evaluates the version it wrote with its own copy and an ONNX Runtime
            // session for it, so the run has let go of its copy; what fitting and committing left goes back first.
            ReleaseMemory();
            if (StoredEvaluation(version) is { } stored)
                accuracy = stored;
            else
            {
                using var predictor = new Predictor(_store.LoadCurrentModel(_status.ProjectId));
                // Committed already: a Stop now does not undo it, so the evaluation (a few images) is not cancelled.
                accuracy = Evaluator.Evaluate(predictor, test, EvaluationOptions).Accuracy;
            }
        }
        End(RunState.Finished, Skipped(skipped), version, accuracy, 1);
    }

    /// <summary>Fits the k-NN or logistic-regression head and commits the model; the run then holds the model no more (a
    /// method of its own, so that no variable of the caller's frame keeps it reachable).</summary>
    private (long Version, IReadOnlyList<(string Path, string Reason)> Skipped) FitAndCommit(LabeledFolder train, CancellationToken token)
    {
        var model = _model!;
        var request = _status.Request;
        long runId = _status.RunId;
        Update(s => s with { State = RunState.Training });
        var progress = new Progress(p => Publish(new RunEvent { Kind = RunEvent.FeaturesKind, RunId = runId, Done = p.Done, Total = p.Total }));
        int seed = request.Seed ?? (int)model.Spec.DefaultOr(HyperparameterNames.Seed, TrainingDefaults.Seed);
        var cache = FeatureOptions(_store.FeatureStore(_status.ProjectId));
        HeadTrainingResult result = request.Head == RunHead.Knn
            ? HeadTrainer.TrainKnn(model, train, new KnnTrainingOptions { K = request.K, Seed = seed, SkipBadExamples = true, Progress = progress, Cache = cache }, token)
            : HeadTrainer.TrainLogisticRegression(model, train, new LogisticRegressionTrainingOptions
            {
                L2 = request.L2 ?? TrainingDefaults.LogisticRegressionL2, Seed = seed, SkipBadExamples = true, Progress = progress, Cache = cache,
            }, token);
        long version = _store.CommitModel(_status.ProjectId, runId, model);
        _model = null;
        return (version, result.Skipped);
    }

    /// <summary>The feature pass of a studio run: the project's feature store, and ONNX Runtime runs of
    /// <see cref="FeatureBatch"/> images.</summary>
    internal static FeatureCacheOptions FeatureOptions(Tailor.Features.IFeatureStore? store) => new() { Store = store, BatchSize = FeatureBatch };

    /// <summary>Images per ONNX Runtime run in a studio run's feature pass: 4, not the library's 16. The studio is a server
    /// that stays resident, so its run peaks on top of what it already holds; a quarter of the batch takes about 160 MB off
    /// ONNX Runtime's activation memory (ResNet18) at much the same speed, which keeps a run's peak within that of
    /// <c>tailor train</c> and <c>tailor evaluate</c> on the same photos (<c>bench studio --run-memory</c>).</summary>
    internal const int FeatureBatch = 4;

    /// <summary>The studio's evaluations of a version on the test set (a head run's, the Evaluate screen's): batches of
    /// <see cref="FeatureBatch"/> images through the whole model, for the same reason; the same probabilities as the
    /// library's default batch of 16 (RunEvaluationMemoryTests).</summary>
    internal static readonly EvaluationOptions EvaluationOptions = new() { BatchSize = FeatureBatch };

    /// <summary>The store's evaluation of the committed version (kept with it); null when it keeps none or it failed — the
    /// model is committed either way, and the run then evaluates it itself.</summary>
    private double? StoredEvaluation(long version)
    {
        try
        {
            return _store.EvaluateVersion(_status.ProjectId, version);
        }
        catch (TailorException)
        {
            return null;
        }
    }

    private void End(RunState state, string? reason, long? version, double? accuracy, int? epochsCompleted = null)
    {
        var training = state switch { RunState.Finished => TrainingState.Completed, RunState.Stopped => TrainingState.Cancelled, _ => TrainingState.Failed };
        try
        {
            _store.EndRun(_status.RunId, training, reason, version);
        }
        catch (Exception e)
        {
            reason = Join(reason, $"Recording the run's end failed: {e.Message}");
        }
        Update(s => s with
        {
            State = state, Message = reason, ModelVersionId = version, Accuracy = accuracy,
            Epoch = epochsCompleted ?? (s.State == RunState.Training ? s.Epoch : 0),
        }, new RunEvent { Kind = RunEvent.FinishedKind, RunId = _status.RunId, State = state, Reason = reason, ModelVersionId = version, Accuracy = accuracy });
        lock (_gate) _subscribers.Clear();   // each has its finished event queued; nothing more comes
    }

    /// <summary>
    /// A full, compacting collection that also decommits the free memory (the large-object heap included): the studio is a
    /// long-lived process, and what a run allocates would otherwise stay committed (the garbage collector sizes its budgets
    /// for throughput, not for a server that is idle between runs). Called before a run loads its model, before a head run's
    /// evaluation, as a network run's epochs begin and after each, and when a run ends; tens of milliseconds each time.
    /// </summary>
    internal static void ReleaseMemory()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>How a run's message starts when the loss diverged (the guidance finds the run by it).</summary>
    internal const string DivergedPrefix = "Training diverged at epoch ";

    /// <summary>The epoch (in the project's numbering) and batch where the loss stopped being finite, the rate it had, and a
    /// rate to try: a tenth of it, within the model's allowed values (and the model's default when that is lower still).</summary>
    internal static string DivergedMessage(TrainingDivergence d, int before, int committedEpoch, Hyperparameter? domain)
    {
        double suggestion = SuggestedLearningRate(d.LearningRate, domain);
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{DivergedPrefix}{before + d.Epoch} (batch {d.Batch} of {d.BatchCount}): the loss became {(float)d.Loss} with the learning rate {d.LearningRate:G3}. " +
            $"Lower the learning rate: try {suggestion:G3} (a tenth)");
        if (domain is { } h && h.Default < suggestion && h.Allowed.Contains(h.Default))
            text += string.Create(CultureInfo.InvariantCulture, $", or the model's default, {h.Default:G3}");
        return text + (committedEpoch > 0
            ? string.Create(CultureInfo.InvariantCulture, $". The model of epoch {committedEpoch} is committed.")
            : ". Nothing was committed; the current model is unchanged.");
    }

    /// <summary>A tenth of <paramref name="rate"/>, moved into the allowed values of <paramref name="domain"/> (the nearest
    /// allowed value of a set, the bounds of a range).</summary>
    internal static double SuggestedLearningRate(double rate, Hyperparameter? domain)
    {
        double tenth = rate / 10;
        if (domain?.Allowed is not { } allowed) return tenth;
        if (allowed.Set is { Count: > 0 } set)
            return set.Where(v => v > 0 && v < rate).DefaultIfEmpty(set.Min()).MinBy(v => Math.Abs(Math.Log10(v) - Math.Log10(tenth)));
        if (allowed.Range is [var min, var max]) return Math.Clamp(tenth, min, max);
        return tenth;
    }

    private static string? Skipped(IReadOnlyList<(string Path, string Reason)> skipped) => skipped.Count == 0 ? null
        : string.Create(CultureInfo.InvariantCulture, $"Skipped {skipped.Count} unreadable image{(skipped.Count == 1 ? "" : "s")}: ") +
          string.Join("; ", skipped.Select(s => $"{s.Path}: {s.Reason}"));

    private static string? Join(string? a, string? b) => a is null ? b : b is null ? a : a + " " + b;

    private sealed class Progress(Action<FeatureProgress> report) : IProgress<FeatureProgress>
    {
        public void Report(FeatureProgress value) => report(value);
    }
}
