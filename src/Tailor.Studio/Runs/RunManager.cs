using System.Runtime.CompilerServices;
using Tailor.Heads;
using Tailor.Spec;
using H = Tailor.Spec.HyperparameterNames;

namespace Tailor.Studio.Runs;

/// <summary>
/// The studio's training runs: one at a time per project, each on a thread of its own (never a request thread), with
/// live events for any number of subscribers. A network run goes through <see cref="Training.UpdateTask"/> (validated
/// on the test set after every epoch), k-NN and logistic regression through <see cref="HeadTrainer"/> — the same library
/// path as <c>tailor train</c>. The model is read from and committed to the <see cref="IRunStore"/>.
/// </summary>
/// <remarks>Thread-safe. Closing every subscription does not stop a run; <see cref="Stop"/> does, and
/// <see cref="Dispose"/> stops them all and waits for them to end.</remarks>
public sealed class RunManager : IDisposable
{
    private readonly IRunStore _store;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Run> _runs = [];   // project → its run going on, or its last one (ended: a status, nothing held)
    private bool _disposed;

    /// <summary>A manager over <paramref name="store"/>; it keeps nothing on disk itself.</summary>
    public RunManager(IRunStore store) => _store = store ?? throw new ArgumentNullException(nameof(store));

    /// <summary>Raised on the run's thread for every event, before subscribers see it (tests act at an exact point).</summary>
    internal event Action<RunEvent>? Published;

    /// <summary>
    /// Checks <paramref name="request"/> against the project's current model (its update spec's allowed values), records
    /// a new run and starts it on its own thread. A network run continues from the current model and numbers its epochs
    /// after <see cref="IRunStore.PriorEpochs"/>; a k-NN run stores the project's examples in the base model
    /// (<see cref="IRunStore.LoadBaseModel"/>), so that running it again does not store them twice.
    /// </summary>
    /// <returns>The run's first status (<see cref="RunState.Preparing"/>).</returns>
    /// <exception cref="TailorException">A run is already going on the project (the message names it and its epoch), or
    /// a setting is outside the model's allowed values (the message names it and what is allowed).</exception>
    public RunStatus Start(long projectId, RunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ThrowIfActive(projectId);
        }
        Run.ReleaseMemory();   // what the studio did since its last run (imports, thumbnails, predictions) is not kept under the run's peak
        var (model, fromBase) = ModelFor(projectId, request);
        var layers = Check(request, model.Spec);
        // A network run continues the current model's history; a head fitted anew, or a model started from the base, has none.
        var prior = request.Head == RunHead.NeuralNetwork && !fromBase ? _store.PriorEpochs(projectId) : [];
        Run run;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ThrowIfActive(projectId);   // a second Start that raced this one
            long runId = _store.BeginRun(projectId, request);
            run = new Run(_store, projectId, runId, request, model, layers, prior, e => Published?.Invoke(e));
            _runs[projectId] = run;
        }
        run.Start();
        return run.Status();
    }

    /// <summary>
    /// Continues a run the studio was stopped during (<see cref="IRunStore.InterruptedRun"/>): the same run, from the
    /// checkpoint of its last recorded epoch, with its history; its remaining epochs are numbered on. With the same seed
    /// the final weights are those of a run never interrupted. A run with no epoch checkpointed starts its epochs again.
    /// </summary>
    /// <returns>The run's first status (<see cref="RunState.Preparing"/>, its epoch the epochs already done).</returns>
    /// <exception cref="TailorException">A run is going on the project; <paramref name="runId"/> is not the project's
    /// interrupted run; it cannot resume (a k-NN or logistic-regression run, or the current model changed: the message
    /// says so and to run it again).</exception>
    public RunStatus Resume(long projectId, long runId)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ThrowIfActive(projectId);
        }
        var interrupted = _store.InterruptedRun(projectId);
        if (interrupted is null || interrupted.RunId != runId)
            throw new TailorException($"Run {runId} of project {projectId} cannot resume: only the project's latest run, when the studio was stopped during it, can" +
                (interrupted is null ? " (the project has none)." : $" (that is run {interrupted.RunId})."));
        if (!interrupted.Resumable) throw new TailorException($"Run {runId} cannot resume: {interrupted.WhyNot}");
        var request = interrupted.Request;
        Run.ReleaseMemory();
        var (model, fromBase) = ModelFor(projectId, request);
        var layers = Check(request, model.Spec);
        var prior = !fromBase ? _store.PriorEpochs(projectId) : [];
        int before = prior.Count == 0 ? 0 : prior[^1].Epoch;
        if (interrupted.Epochs.Count > 0 && interrupted.Epochs[0].Epoch != before + 1)
            throw new TailorException($"Run {runId} cannot resume: its epochs begin at {interrupted.Epochs[0].Epoch}, but the current model's history ends at epoch {before}. Run it again.");
        Run run;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ThrowIfActive(projectId);
            _store.ReopenRun(runId, interrupted.EpochsDone);
            run = new Run(_store, projectId, runId, request, model, layers, prior, e => Published?.Invoke(e), interrupted);
            _runs[projectId] = run;
        }
        run.Start();
        return run.Status();
    }

    /// <summary>Asks the project's run to stop after the current mini-batch (or feature batch). The model of the last
    /// finished epoch is committed; when no epoch finished, nothing is and the run's message says so.</summary>
    /// <returns>False when no run is going on the project.</returns>
    public bool Stop(long projectId)
    {
        Run? run;
        lock (_gate) _runs.TryGetValue(projectId, out run);
        return run is not null && run.RequestStop();
    }

    /// <summary>Sets the learning rate of the project's network run from its next epoch on (from the first, when no
    /// epoch has begun); it then takes over from the schedule for the rest of the run.</summary>
    /// <exception cref="TailorException">No network run is going on the project, or the rate is outside the model's allowed
    /// learning_rate values (the message names them).</exception>
    public void SetLearningRate(long projectId, double learningRate)
    {
        Run? run;
        lock (_gate) _runs.TryGetValue(projectId, out run);
        if (run is null || !run.Status().IsActive)
            throw new TailorException($"No run is going on project {projectId}: the learning rate applies to a running network run; give it in the run's request to start one.");
        run.SetLearningRate(learningRate);
    }

    /// <summary>The project's run going on, or its last run in this process; null when it has had none.</summary>
    public RunStatus? Status(long projectId)
    {
        lock (_gate) return _runs.TryGetValue(projectId, out var run) ? run.Status() : null;
    }

    /// <summary>
    /// The project's run as events: first a <c>state</c> event with the status (its history so far, prior epochs included),
    /// then the live events up to <c>finished</c>. Progress (<c>batch</c>, <c>features</c>) comes at most 10 times a second,
    /// the latest replacing one not yet read; the other events are never dropped. Reading slowly, or not at all, never
    /// slows the run; leaving (cancelling or disposing the enumerator) does not stop it. Empty when the project has had no
    /// run in this process; a run already ended gives its <c>state</c> only.
    /// </summary>
    public async IAsyncEnumerable<RunEvent> Subscribe(long projectId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Run? run;
        lock (_gate) _runs.TryGetValue(projectId, out run);
        if (run is null) yield break;
        var (status, subscriber) = run.Attach();
        try
        {
            yield return new RunEvent { Kind = RunEvent.StateKind, RunId = status.RunId, Status = status };
            if (subscriber is null) yield break;
            await foreach (var e in subscriber.ReadAll(cancellationToken).ConfigureAwait(false)) yield return e;
        }
        finally
        {
            if (subscriber is not null) run.Detach(subscriber);
        }
    }

    /// <summary>Completes when the project's current run has ended (at once when it has; tests and shutdown).</summary>
    internal Task WhenEnded(long projectId)
    {
        lock (_gate) return _runs.TryGetValue(projectId, out var run) ? run.Ended : Task.CompletedTask;
    }

    /// <summary>The subscribers attached to the project's run (tests: leaving releases them).</summary>
    internal int SubscriberCount(long projectId)
    {
        lock (_gate) return _runs.TryGetValue(projectId, out var run) ? run.SubscriberCount : 0;
    }

    /// <summary>Stops every run and waits for them to end (their last finished epochs are committed).</summary>
    public void Dispose()
    {
        Run[] runs;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            runs = [.. _runs.Values];
        }
        foreach (var run in runs) run.RequestStop();
        foreach (var run in runs) run.Ended.Wait();
    }

    private void ThrowIfActive(long projectId)
    {
        if (_runs.TryGetValue(projectId, out var going) && going.Status() is { IsActive: true } s)
            throw new TailorException($"A run is already going on project {projectId} (run {s.RunId}, " +
                (s.Epoch == 0 ? $"preparing, {s.Epochs} epoch{(s.Epochs == 1 ? "" : "s")} to train" : $"epoch {s.Epoch} of {s.Epochs}") +
                "): stop it or wait for it to end before starting another.");
    }

    /// <summary>The model a run trains: the current one; the base one for a k-NN (it stores exactly the project's examples,
    /// once, with the pretrained backbone's features, as the reference app's k-NN) and for a network or logistic regression
    /// when the current model is a k-NN (it has no classifier layer left to train) — when the store keeps a base model.</summary>
    private (UpdatableModel Model, bool StartedFromBase) ModelFor(long projectId, RunRequest request)
    {
        var current = _store.LoadCurrentModel(projectId);
        bool fromBase = request.Head == RunHead.Knn || current.Spec.Head == HeadKind.KNearestNeighbors;
        if (fromBase && _store.LoadBaseModel(projectId) is { } baseModel) return (baseModel, true);
        return (current, false);
    }

    /// <summary>The request's settings against the model's allowed values, with the library's checks
    /// (<see cref="Hyperparameter.Check"/>); returns the layers a network run trains (null: the spec's).</summary>
    private static IReadOnlyList<string>? Check(RunRequest r, UpdateSpec spec)
    {
        void Allowed(string name, double? value)
        {
            if (value is double v && spec.Hyperparameters.TryGetValue(name, out var h)) h.Check(name, v);
        }
        switch (r.Head)
        {
            case RunHead.NeuralNetwork:
                if (r.Epochs < 1) throw new TailorException($"epochs = {r.Epochs}; at least 1 is needed.");
                Allowed(H.Epochs, r.Epochs);
                Allowed(H.LearningRate, r.LearningRate);
                Allowed(H.BatchSize, r.BatchSize);
                if (r.BatchSize < 1) throw new TailorException($"batch_size = {r.BatchSize}; at least 1 is needed.");
                Allowed(H.Seed, r.Seed);
                return r.Layers switch
                {
                    RunLayers.Default => null,
                    RunLayers.ClassifierOnly => [spec.UpdatableLayers.Any(l => l.Name == spec.Classifier) ? spec.Classifier
                        : spec.UpdatableLayers.LastOrDefault()?.Name ?? throw new TailorException("The model has no updatable layer to train.")],
                    _ => r.ChosenLayers is { Count: > 0 } chosen ? chosen
                        : throw new TailorException($"Layers is Chosen but ChosenLayers names none; the model's updatable layers are {string.Join(", ", spec.UpdatableLayers.Select(l => l.Name))}."),
                };
            case RunHead.Knn:
                if (r.K is int k && (k < KNearestNeighbors.MinK || k > KNearestNeighbors.MaxK))
                    throw new TailorException($"k = {k} is outside the allowed range {KNearestNeighbors.MinK}..{KNearestNeighbors.MaxK}.");
                Allowed(H.Seed, r.Seed);
                return null;
            default:
                if (r.L2 is double l2 && !(l2 >= 0 && double.IsFinite(l2)))
                    throw new TailorException($"l2 = {l2}: an L2 strength must be a finite number ≥ 0.");
                Allowed(H.Seed, r.Seed);
                return null;
        }
    }
}
