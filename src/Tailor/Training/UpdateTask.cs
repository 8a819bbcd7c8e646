using System.Diagnostics;
using Tailor.Building;
using Tailor.Data;
using Tailor.Engine;
using Tailor.Engine.Losses;
using Tailor.Features;
using Tailor.Onnx;
using Tailor.Spec;
using Tailor.Training.Optimizers;
using H = Tailor.Spec.HyperparameterNames;

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
/// The model passed in is updated in place (weights, and labels that took a free slot); save it after.
/// </remarks>
public sealed partial class UpdateTask
{
    private readonly UpdatableModel _model;
    private readonly LabeledFolder _train;
    private readonly LabeledFolder? _validation;
    private readonly TrainingOptions _options;
    private volatile bool _stopRequested;

    // Set up by Run.
    private SuffixGraph? _graph;
    private TrainingLoss? _loss;
    private FeatureCache? _trainCache, _validationCache;
    private int[] _trainSlots = [], _validationSlots = [];
    private int[] _validationRows = [], _validationOrder = [];
    private int[] _cutLengths = [];
    private float[][] _batchInputs = [];
    private int[] _batchLabels = [];
    private float[] _batchTargets = [];
    private float[] _row = [];
    private int _maxBatch;
    private TrainingExamples? _examples;
    private HashSet<int> _unreadable = [];
    private IReadOnlyList<string> _withoutExamples = [];
    private int _keptCount;
    private bool _startedOver;

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
    public event EventHandler<EpochEndedEventArgs>? EpochEnded;
    public event EventHandler<TrainingCompletedEventArgs>? Completed;

    internal Optimizer Optimizer { get; private set; } = null!;

    internal IReadOnlyList<ITrainableParameter> Parameters { get; private set; } = [];

    internal void RequestStop() => _stopRequested = true;

    /// <summary>Runs the task on a worker thread.</summary>
    /// <exception cref="TailorException">Bad options or data found before training starts (a value outside
    /// the model's allowed values, a label beyond the capacity, an op the engine cannot train…).</exception>
    public Task<TrainingResult> RunAsync(CancellationToken cancellationToken = default) =>
        Task.Run(() => Run(cancellationToken), CancellationToken.None);

    /// <summary>Runs the task on the calling thread; see <see cref="RunAsync"/>.</summary>
    public TrainingResult Run(CancellationToken cancellationToken = default)
    {
        var spec = _model.Spec;
        if (spec.Head == HeadKind.KNearestNeighbors)
            throw new TailorException($"The model{(_model.Path is { } p ? $" '{p}'" : "")} has a k-NN head, which learns by storing examples, not by gradient steps: " +
                "add examples with tailor train --head knn (HeadTrainer.TrainKnn), or prepare a new model for --head nn.");
        var settings = ResolveSettings(spec);
        CheckValidationOptions();
        var (trainExamples, validationExamples) = SplitExamples(settings.Seed);
        // Before any work: data that lacks a label the model was trained on is refused (unless replayed or forgotten).
        var examples = _examples = TrainingExamples.Plan(spec, _train, _options.ReplayExamplesPath, _options.Forget, _options.KeepExamplesPath is not null, trainExamples);
        var labelsBefore = spec.Labels;
        var newLabels = AssignSlots(examples.Labels);
        // Only the slots this training has examples for can be predicted (free placeholders and labels without examples get
        // probability 0); set before the suffix graph is built, so training sees the softmax the written model has.
        ModelBuilder.SetLiveSlots(_model, examples.Labels.Select(_model.Spec.Labels.IndexOf));
        spec = _model.Spec;

        // Build the trainable suffix first: an op the engine cannot train fails here, before the slow part.
        var cut = GraphCut.Compute(_model);
        var trainable = spec.UpdatableLayers.SelectMany(l => l.Parameters).ToList();
        var history = new TrainingHistory();
        var skipped = new List<(string, string)>();
        double featureSeconds;
        using (var extractor = new FeatureExtractor(_model, cut, _options.ExecutionProvider))
        {
            examples.Bind(extractor);
            // After the kept examples are checked (a refused file leaves the weights as they were); the reset layers
            // are all after the cut, so the features do not change.
            _startedOver = examples.Replays && _options.StartOverWhenReplaying && TryStartOver();
            if (_startedOver) ModelBuilder.SetLiveSlots(_model, examples.Labels.Select(_model.Spec.Labels.IndexOf));   // reset made every label live
            var shapes = cut.CutTensors.Select((t, i) => (t, extractor.Shapes[i])).ToDictionary(p => p.t, p => p.Item2);
            _loss = new TrainingLoss(spec);
            _graph = SuffixGraph.Build(_model.Proto.Graph, cut.CutTensors, _loss.Outputs, trainable.ToHashSet(),
                (int)_model.Proto.Opset(), shapes, settings.Seed);
            _cutLengths = extractor.Lengths.ToArray();
            var clock = Stopwatch.StartNew();
            var trainPaths = trainExamples.Select(e => e.Path).ToList();
            IProgress<FeatureProgress> progress = new SyncProgress(p => FeaturesProgress?.Invoke(this, p));
            FeatureCache trainCache;
            IReadOnlyList<FeatureCache.Failure> failures;
            try
            {
                (trainCache, failures) = FeatureCache.Build(extractor, trainPaths, settings.Augmentation, settings.Seed, _options.Cache, progress, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Completion is always reported, cancellation included; no epoch ran, so the weights are untouched.
                return Finish(TrainingState.Cancelled, "Cancelled while computing the features; no epoch was trained and the weights are unchanged.",
                    0, history, skipped, newLabels, clock.Elapsed.TotalSeconds);
            }
            _trainCache = trainCache;
            if (failures.Count > 0 && !_options.SkipBadExamples)
            {
                trainCache.Dispose();
                return Finish(TrainingState.Failed, TrainingExamples.UnreadableMessage(failures), 0, history, skipped, newLabels, clock.Elapsed.TotalSeconds);
            }
            skipped.AddRange(failures.Select(f => (f.Path, f.Reason)));
            var bad = _unreadable = failures.Select(f => f.Example).ToHashSet();
            // A label none of whose photos could be read takes no slot; one the model was trained on is then missing.
            _withoutExamples = examples.LabelsWithoutExamples(bad);
            if (_withoutExamples.Count > 0)
            {
                var lost = _withoutExamples.Where(l => spec.TrainedExamples?.Keys.Contains(l, LabelComparer.Instance) == true).ToList();
                if (lost.Count > 0 && !_options.Forget)
                {
                    trainCache.Dispose();
                    return Finish(TrainingState.Failed, "No photo of a trained label could be read: " + TrainingExamples.ForgettingMessage(
                        lost.Select(l => spec.TrainedExamples!.First(p => LabelComparer.Instance.Equals(p.Key, l))).ToList(), _train.Root, examples.Replays),
                        0, history, skipped, newLabels, clock.Elapsed.TotalSeconds);
                }
                if (_withoutExamples.Any(newLabels.ContainsKey))
                {
                    ModelBuilder.WriteLabels(_model, labelsBefore);
                    var kept = examples.Labels.Except(_withoutExamples, LabelComparer.Instance).ToList();
                    newLabels = AssignSlots(kept);
                    ModelBuilder.SetLiveSlots(_model, kept.Select(_model.Spec.Labels.IndexOf));
                    spec = _model.Spec;
                    _graph = SuffixGraph.Build(_model.Proto.Graph, cut.CutTensors, _loss.Outputs, trainable.ToHashSet(),
                        (int)_model.Proto.Opset(), shapes, settings.Seed);
                }
            }
            trainCache = _trainCache = examples.Replay(trainCache, _options.Cache);
            _trainSlots = Enumerable.Range(0, examples.Count).Select(i => bad.Contains(i) ? -1 : spec.Labels.IndexOf(examples.LabelOf(i))).ToArray();
            if (validationExamples is not null)
            {
                (_validationCache, var vFailures) = FeatureCache.Build(extractor, validationExamples.Select(e => e.Path).ToList(),
                    Images.AugmentationOptions.None, settings.Seed, _options.Cache, null, cancellationToken);
                var vBad = vFailures.Select(f => f.Example).ToHashSet();
                skipped.AddRange(vFailures.Select(f => (f.Path, f.Reason)));
                _validationSlots = validationExamples.Select((e, i) => vBad.Contains(i) ? -1 : spec.Labels.IndexOf(e.Label)).ToArray();
                _validationRows = Enumerable.Range(0, _validationCache.Rows).Where(r => _validationSlots[r] >= 0).ToArray();
                _validationOrder = Enumerable.Range(0, _validationRows.Length).ToArray();
            }
            featureSeconds = clock.Elapsed.TotalSeconds;
        }
        try
        {
            return Train(settings, history, skipped, newLabels, featureSeconds, cancellationToken);
        }
        finally
        {
            _trainCache?.Dispose();
            _validationCache?.Dispose();
            // The engine's graph holds the batch activations, gradients and kept convolution columns (over 100 MB when
            // fine-tuning the default layers); the task keeps only what its context reports after the run.
            _graph = null;
            _batchInputs = [];
            // Those buffers are large objects that only a full collection frees, and nothing else in a task triggers
            // one; without it they stayed resident beside the next ONNX Runtime session (the README sample peaked at
            // 1.16 GB). Aggressive: the freed regions are returned to the system, not kept for reuse. One collection
            // per task, about a tenth of a second against seconds of training.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }

    private TrainingResult Train(Settings settings, TrainingHistory history, List<(string, string)> skipped,
        IReadOnlyDictionary<string, int> newLabels, double featureSeconds, CancellationToken cancellationToken)
    {
        var graph = _graph!;
        var spec = _model.Spec;
        Parameters = spec.UpdatableLayers.SelectMany(l => l.Parameters).Select(p => graph.Parameters[p]).ToList();
        Optimizer = CreateOptimizer(spec.Optimizer, settings);

        int variants = _trainCache!.Variants;
        // Rows of readable examples: every variant of every example, each visited once per epoch.
        var rows = Enumerable.Range(0, _trainCache.Rows).Where(r => _trainSlots[r / variants] >= 0).ToArray();
        if (rows.Length == 0)
            return Finish(TrainingState.Failed, "No training example could be read.", 0, history, skipped, newLabels, featureSeconds);
        _maxBatch = Math.Min(settings.BatchSize, rows.Length);
        _batchInputs = _cutLengths.Select(l => new float[_maxBatch * l]).ToArray();
        _batchLabels = new int[_maxBatch];
        _batchTargets = new float[_maxBatch * spec.Labels.Capacity];
        _row = new float[_trainCache.RowLength];

        int firstEpoch = 0;
        if (_options.ResumeFrom is { } resume)
        {
            var checkpoint = Checkpoint.Read(resume);
            if (checkpoint.ShuffleSeed != settings.Seed)
                throw new TailorException($"The checkpoint '{resume}' was written with seed {checkpoint.ShuffleSeed}; this run uses seed {settings.Seed}. Resume with --seed {checkpoint.ShuffleSeed}.");
            if (checkpoint.EpochsCompleted > settings.Epochs)
                throw new TailorException($"The checkpoint '{resume}' has {checkpoint.EpochsCompleted} epochs done; this run asks for {settings.Epochs} in all.");
            checkpoint.RestoreInto(Parameters, Optimizer);
            firstEpoch = checkpoint.EpochsCompleted;
            var earlier = _options.ResumeHistory ?? (_options.HistoryPath is { } hp && File.Exists(hp) ? TrainingHistory.Load(hp) : null);
            if (earlier is not null)
            {
                history = new TrainingHistory();
                foreach (var e in earlier.Epochs.Where(e => e.Epoch <= firstEpoch)) history.Add(e);
            }
        }

        // The snapshot holds the weights the task hands back if it stops now: the last completed epoch's, or with
        // keep-best the epoch with the lowest validation loss (one copy either way, rewritten in place).
        var snapshot = new Snapshot(Parameters, Optimizer);
        bool validated = _validationRows.Length > 0;
        var best = new BestEpoch(validated && (_options.KeepBest ?? DefaultHyperparameters.KeepBest), validated ? _options.Patience : 0, firstEpoch, history);
        int batchCount = (rows.Length + _maxBatch - 1) / _maxBatch;
        TrainingBegan?.Invoke(this, new TrainingBeganEventArgs(rows.Length / variants, variants, settings.Epochs, _maxBatch, firstEpoch + 1, spec.Labels.Names));
        var order = new int[rows.Length];
        double baseLearningRate = settings.LearningRate;
        int completed = firstEpoch;
        double? scheduledRate = null;
        for (int epoch = firstEpoch; epoch < settings.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            // A handler that changed the learning rate between epochs (annealing by hand) takes over from the
            // schedule: the schedule sets the rate only while it is still the one the schedule set last.
            if (settings.Schedule is { } schedule && (scheduledRate is null || Optimizer.LearningRate == scheduledRate))
                scheduledRate = Optimizer.LearningRate = schedule.LearningRateAt(epoch, baseLearningRate);
            if (settings.Shuffle) EpochShuffle.Permutation(settings.Seed, epoch, order);
            else for (int i = 0; i < order.Length; i++) order[i] = i;

            double lossSum = 0, lastLoss = 0;
            int correct = 0;
            for (int b = 0; b < batchCount; b++)
            {
                if (cancellationToken.IsCancellationRequested || _stopRequested)
                    return Stop(TrainingState.Cancelled, $"Cancelled during epoch {epoch + 1}; the weights of epoch {best.Kept}{best.KeptWhy} are kept.",
                        snapshot, completed, best, settings, history, skipped, newLabels, featureSeconds);
                int start = b * _maxBatch, count = Math.Min(_maxBatch, rows.Length - start);
                var result = Step(rows, order, start, count, training: true);
                if (!double.IsFinite(result.Value))
                    return Stop(TrainingState.Failed,
                        $"The loss became {result.Value} at epoch {epoch + 1}, batch {b + 1} of {batchCount}: training diverged. " +
                        $"Lower the learning rate (it is {Optimizer.LearningRate}); the weights of epoch {best.Kept}{best.KeptWhy} are kept.",
                        snapshot, completed, best, settings, history, skipped, newLabels, featureSeconds);
                Optimizer.Step(Parameters);
                lossSum += result.Value * count;
                lastLoss = result.Value;
                correct += result.Correct ?? 0;
                if (MiniBatchEnded is { } handler)
                    handler(this, new MiniBatchEndedEventArgs(epoch + 1, b, batchCount, count, result.Value, (result.Correct ?? 0) / (double)count));
            }

            completed = epoch + 1;
            var validation = Validate();
            var record = new EpochRecord(completed, lossSum / rows.Length, lastLoss, correct / (double)rows.Length,
                validation?.Loss, validation?.Accuracy, Optimizer.LearningRate, clock.Elapsed.TotalSeconds);
            history.Add(record);
            if (_options.HistoryPath is { } historyPath) history.Save(historyPath, Path.ChangeExtension(historyPath, ".csv"));
            if (best.Observe(completed, validation?.Loss)) snapshot.Capture(Parameters, Optimizer);
            if (_options.CheckpointEvery > 0 && completed % _options.CheckpointEvery == 0 && _options.CheckpointPath is { } cp)
                WriteCheckpoint(cp, completed, settings);
            EpochEnded?.Invoke(this, new EpochEndedEventArgs(completed, settings.Epochs, record.TrainLossMean, record.TrainLossLastBatch,
                record.TrainAccuracy, record.ValidationLoss, record.ValidationAccuracy, record.LearningRate, record.Seconds));
            if (best.PatienceRanOut(completed)) break;
        }
        // With keep-best the snapshot holds the best epoch; otherwise it is the last one, already in place.
        if (best.Kept != completed) snapshot.Restore(Parameters, Optimizer);
        WriteBack();
        return Finish(TrainingState.Completed, best.StopReason(completed, settings.Epochs), completed, history, skipped, newLabels, featureSeconds, best);
    }

    /// <summary>Forward (and, when training, loss gradient + backward) on the rows order[start..start+count).</summary>
    private LossResult Step(int[] rows, int[] order, int start, int count, bool training, FeatureCache? cache = null, int[]? slots = null)
    {
        cache ??= _trainCache!;
        slots ??= _trainSlots;
        var graph = _graph!;
        int capacity = _model.Spec.Labels.Capacity;
        bool oneHot = _loss!.NeedsOneHot;
        if (oneHot) _batchTargets.AsSpan(0, count * capacity).Clear();
        for (int i = 0; i < count; i++)
        {
            int row = rows[order[start + i]];
            cache.Read(row, _row);
            int offset = 0;
            for (int t = 0; t < _cutLengths.Length; t++)
            {
                _row.AsSpan(offset, _cutLengths[t]).CopyTo(_batchInputs[t].AsSpan(i * _cutLengths[t]));
                offset += _cutLengths[t];
            }
            int slot = slots[row / cache.Variants];
            _batchLabels[i] = slot;
            if (oneHot) _batchTargets[i * capacity + slot] = 1f;
        }
        var names = graph.InputNames;
        for (int t = 0; t < _cutLengths.Length; t++)
            graph.SetInput(names[t], _batchInputs[t].AsSpan(0, count * _cutLengths[t]), count);
        if (training) graph.ZeroGradients();
        graph.Forward(training);
        var result = _loss.Evaluate(graph, _batchLabels.AsMemory(0, count), _batchTargets.AsMemory(0, count * capacity), seedGradient: training);
        if (training && double.IsFinite(result.Value)) graph.Backward();
        return result;
    }

    /// <summary>Loss and accuracy on the validation features with the current weights.</summary>
    internal (double Loss, double Accuracy)? Validate()
    {
        if (_validationCache is null || _graph is null) return null;
        // Rows and order were set up once: validating every epoch allocates nothing.
        var rows = _validationRows;
        if (rows.Length == 0) return null;
        var order = _validationOrder;
        double loss = 0;
        int correct = 0;
        for (int start = 0; start < rows.Length; start += _maxBatch)
        {
            int count = Math.Min(_maxBatch, rows.Length - start);
            var r = Step(rows, order, start, count, training: false, _validationCache, _validationSlots);
            loss += r.Value * count;
            correct += r.Correct ?? 0;
        }
        return (loss / rows.Length, correct / (double)rows.Length);
    }

    /// <summary>Copies the trained parameters into the ONNX model, records what it was trained on, and keeps
    /// the examples when asked.</summary>
    private void WriteBack()
    {
        foreach (var p in Parameters) _model.SetParameter(p.Name, p.Value);
        if (_examples is null) return;
        _model.SetSpec(_model.Spec with { TrainedExamples = _examples.Record(_model.Spec.Labels, _unreadable) });
        if (_options.KeepExamplesPath is { } keep) _keptCount = _examples.Keep(keep, _trainCache!, _unreadable);
    }

    internal UpdatableModel SnapshotModel()
    {
        var copy = _model.Clone();
        foreach (var p in Parameters) copy.SetParameter(p.Name, p.Value);
        return copy;
    }

    private TrainingResult Stop(TrainingState state, string reason, Snapshot snapshot, int completed, BestEpoch best, Settings settings, TrainingHistory history,
        List<(string, string)> skipped, IReadOnlyDictionary<string, int> newLabels, double featureSeconds)
    {
        snapshot.Restore(Parameters, Optimizer);
        // The checkpoint holds what the snapshot holds (with keep-best, the best epoch): resuming from it is exact.
        if (_options.CheckpointPath is { } cp && best.Kept > 0) WriteCheckpoint(cp, best.Kept, settings);
        WriteBack();
        return Finish(state, reason, completed, history, skipped, newLabels, featureSeconds, best);
    }

    private void WriteCheckpoint(string path, int completed, Settings settings) =>
        Checkpoint.Write(path, completed, settings.Seed, Parameters, Optimizer);

    private TrainingResult Finish(TrainingState state, string? reason, int completed, TrainingHistory history,
        List<(string, string)> skipped, IReadOnlyDictionary<string, int> newLabels, double featureSeconds, BestEpoch? best = null)
    {
        int kept = best?.Kept ?? completed;
        bool stoppedEarly = best?.StoppedEarly ?? false;
        history.KeptEpoch = kept > 0 ? kept : null;
        if (_options.HistoryPath is { } historyPath && history.Epochs.Count > 0) history.Save(historyPath, Path.ChangeExtension(historyPath, ".csv"));
        Completed?.Invoke(this, new TrainingCompletedEventArgs(state, reason, completed, kept, stoppedEarly));
        return new TrainingResult
        {
            State = state, Reason = reason, EpochsCompleted = completed, KeptEpoch = kept, StoppedEarly = stoppedEarly, History = history,
            Skipped = skipped, NewLabels = newLabels, FeatureSeconds = featureSeconds,
            Replayed = _examples?.Replayed ?? 0, KeptExamples = _keptCount, Forgotten = _examples?.Forgotten ?? [],
            LabelsWithoutExamples = _withoutExamples, StartedOver = _startedOver,
        };
    }

    /// <summary>Labels of the data (and of the replayed examples) the model does not know take free placeholder
    /// slots: the one of the same name if free, else the next.</summary>
    private IReadOnlyDictionary<string, int> AssignSlots(IEnumerable<string> trainLabels)
    {
        var labels = _model.Spec.Labels.ClaimAll(trainLabels, out var added);
        if (_validation is not null)
        {
            var unknown = _validation.Labels.Where(l => labels.IndexOf(l) < 0).ToList();
            if (unknown.Count > 0)
                throw new TailorException($"The validation folder has label{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{Shown.Label(u)}'"))} " +
                    $"that neither the model nor the training data has ({string.Join(", ", labels.InUse.Select(Shown.Label))}).");
        }
        if (added.Count > 0) ModelBuilder.WriteLabels(_model, labels);
        return added;
    }

    /// <summary>Back to the model's initial weights (<see cref="ModelBuilder.Reset"/>) before training on the replayed
    /// examples and the data; false, weights untouched, when the base model of fine-tuned layers is not known.</summary>
    private bool TryStartOver()
    {
        try
        {
            ModelBuilder.Reset(_model);
            return true;
        }
        catch (TailorException)
        {
            return false;
        }
    }

    private sealed class SyncProgress(Action<FeatureProgress> report) : IProgress<FeatureProgress>
    {
        public void Report(FeatureProgress value) => report(value);
    }
}
