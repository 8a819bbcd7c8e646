using System.Diagnostics;
using Tailor.Building;
using Tailor.Data;
using Tailor.Features;
using Tailor.Images;
using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor.Training;

/// <summary>
/// Which labels take which slots, and which slots can be predicted: a value computed by <see cref="TrainingPlan.Create"/>
/// and written into a model only when a trained result is committed (<see cref="TrainingSession.ExportModel"/>,
/// or an <see cref="UpdateTask"/> that completed an epoch). Until then the model given to the plan is unchanged.
/// </summary>
/// <param name="Labels">The model's labels with the new ones in the free slots they took.</param>
/// <param name="LiveSlots">The slots this training has examples for; every other slot (free placeholders, labels
/// without examples) is masked out of the softmax and gets probability 0.</param>
/// <param name="NewLabels">Labels that took a free placeholder slot: label → slot.</param>
public sealed record SlotAssignment(ClassLabels Labels, IReadOnlyList<int> LiveSlots, IReadOnlyDictionary<string, int> NewLabels)
{
    /// <summary>Labels of the data (and of the replayed examples) the model does not know take free placeholder
    /// slots: the one of the same name if free, else the next. With <paramref name="appendWhenFull"/> (a k-NN, which has
    /// no fixed capacity) the labels that find no free slot are appended after the last slot instead of failing.</summary>
    internal static SlotAssignment For(ClassLabels labels, IReadOnlyList<string> trainLabels, LabeledFolder? validation, bool appendWhenFull = false)
    {
        ClassLabels claimed;
        IReadOnlyDictionary<string, int> added;
        if (appendWhenFull)
        {
            var fresh = trainLabels.Select(ClassLabels.Normalize).Distinct().Where(l => labels.IndexOf(l) < 0).ToList();
            claimed = labels.ClaimAll(fresh.Take(labels.Placeholders.Count), out var inPlaceholders);
            var appended = new Dictionary<string, int>(inPlaceholders);
            foreach (string label in fresh.Skip(labels.Placeholders.Count))
            {
                appended[label] = claimed.Capacity;
                claimed = claimed with { Names = [.. claimed.Names, label] };
            }
            added = appended;
        }
        else
            claimed = labels.ClaimAll(trainLabels, out added);
        if (validation is not null)
        {
            var unknown = validation.Labels.Where(l => claimed.IndexOf(l) < 0).ToList();
            if (unknown.Count > 0)
                throw new TailorException($"The validation folder has label{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{Shown.Label(u)}'"))} " +
                    $"that neither the model nor the training data has ({string.Join(", ", claimed.InUse.Select(Shown.Label))}).");
        }
        return new SlotAssignment(claimed, trainLabels.Select(claimed.IndexOf).ToList(), added);
    }

    /// <summary>Writes the labels and the live slots into <paramref name="model"/>.</summary>
    internal void ApplyTo(UpdatableModel model)
    {
        if (NewLabels.Count > 0) ModelBuilder.WriteLabels(model, Labels);
        ModelBuilder.SetLiveSlots(model, LiveSlots);
    }
}

/// <summary>
/// Everything a training decides before it computes anything: the settings in force (<see cref="TrainingOptions"/>
/// over the model's defaults, each checked against its allowed values), the examples (with the label contract of
/// DESIGN decision 8 checked: data that lacks a trained label is refused before any work), the
/// <see cref="SlotAssignment"/>, and one graph analysis (<see cref="Cut"/>: the cut tensors and the suffix nodes).
/// The model given is not modified: the plan works on a copy, which a <see cref="TrainingSession"/> trains and
/// exports. <see cref="ComputeFeatures"/> runs the frozen prefix once per example.
/// </summary>
/// <remarks>Dispose the plan to release the ONNX Runtime session of the frozen prefix if
/// <see cref="ComputeFeatures"/> was not called (it releases it itself).</remarks>
public sealed class TrainingPlan : IDisposable
{
    private readonly LabeledFolder _train;
    private readonly LabeledFolder? _validation;
    private readonly UpdatableModel _working;   // a copy of the model with the slot assignment applied (and reset when starting over); a head plan's is the model, only read
    private readonly ClassLabels _labelsBefore;
    private FeatureExtractor? _extractor;
    private IReadOnlyList<int[]>? _cutShapes;
    private bool _bound;
    private bool _headPlan;      // a head fitted at the features (ForHead): the head applies the slots to the model when it commits
    private bool _appendSlots;   // new labels beyond the free slots are appended (a k-NN)

    private TrainingPlan(UpdatableModel model, LabeledFolder train, LabeledFolder? validation, TrainingOptions options, TrainingSettings settings,
        TrainingExamples examples, IReadOnlyList<LabeledExample> trainExamples, IReadOnlyList<LabeledExample>? validationExamples,
        SlotAssignment slots, UpdatableModel working, bool startsOver, GraphCut cut)
    {
        Model = model;
        _train = train;
        _validation = validation;
        Options = options;
        Settings = settings;
        Examples = examples;
        TrainExamples = trainExamples;
        ValidationExamples = validationExamples;
        Slots = slots;
        _working = working;
        _labelsBefore = model.Spec.Labels;
        StartsOver = startsOver;
        Cut = cut;
    }

    /// <summary>
    /// Plans a training of <paramref name="model"/> on <paramref name="train"/> (one sub-folder per label), validated on
    /// <paramref name="validation"/> (or on a part of <paramref name="train"/> held out by
    /// <see cref="TrainingOptions.ValidationSplit"/>).
    /// </summary>
    /// <exception cref="TailorException">Bad options or data found before any work: a k-NN model, a value outside the
    /// model's allowed values, a label beyond the capacity, data that lacks a trained label, a validation label that
    /// neither the model nor the data has, a model without updatable layers.</exception>
    public static TrainingPlan Create(UpdatableModel model, LabeledFolder train, TrainingOptions? options = null, LabeledFolder? validation = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        options ??= new TrainingOptions();
        var spec = model.Spec;
        if (spec.Head == HeadKind.KNearestNeighbors)
            throw new TailorException($"The model{(model.Path is { } p ? $" '{p}'" : "")} has a k-NN head, which learns by storing examples, not by gradient steps: " +
                "add examples with HeadTrainer.TrainKnn, or prepare a new model with a network head (ModelBuilder.Prepare).");
        var settings = TrainingSettings.Resolve(options, spec);
        UpdateTask.CheckValidationOptions(options, validation);
        var (trainExamples, validationExamples) = UpdateTask.SplitExamples(train, validation, options.ValidationSplit, settings.Seed);
        // Before any work: data that lacks a label the model was trained on is refused (unless replayed or forgotten).
        var examples = TrainingExamples.Plan(spec, train, options.ReplayExamplesPath, options.Forget, options.KeepExamplesPath is not null, trainExamples);
        var slots = SlotAssignment.For(spec.Labels, examples.Labels, validation);
        // Only the slots this training has examples for can be predicted (free placeholders and labels without examples get
        // probability 0); set before the suffix graph is built, so training sees the softmax the written model has.
        var working = model.Clone();
        if (options.UpdatableLayers is { } chosen) working.SetSpec(working.Spec with { UpdatableLayers = ChosenLayers(spec, chosen) });
        slots.ApplyTo(working);
        // Replaying kept examples: the kept examples and the data are everything the model was last trained on, so the
        // training starts from the initial weights (the reset layers are all after the cut: the features do not change).
        bool startsOver = examples.Replays && options.StartOverWhenReplaying && TryStartOver(working);
        if (startsOver) ModelBuilder.SetLiveSlots(working, slots.LiveSlots);   // reset made every label live
        // Graphs as exporters write them (Constant nodes, tied initializers, shape subgraphs) in the form the suffix is built from.
        working.Proto.Import((spec.Preprocessing.Height, spec.Preprocessing.Width));
        var cut = GraphCut.Compute(working);
        return new TrainingPlan(model, train, validation, options, settings, examples, trainExamples, validationExamples, slots, working, startsOver, cut);
    }

    /// <summary>The model's updatable layers named in <paramref name="chosen"/> (<see cref="TrainingOptions.UpdatableLayers"/>), in the spec's order.</summary>
    /// <exception cref="TailorException">An empty list, or a name that is not one of the model's updatable layers.</exception>
    private static IReadOnlyList<UpdatableLayer> ChosenLayers(UpdateSpec spec, IReadOnlyList<string> chosen)
    {
        string allowed = string.Join(", ", spec.UpdatableLayers.Select(l => l.Name));
        if (chosen.Count == 0)
            throw new TailorException($"UpdatableLayers is empty: name at least one of the model's updatable layers ({allowed}), or leave it null to train them all.");
        var unknown = chosen.Where(name => spec.UpdatableLayers.All(l => l.Name != name)).ToList();
        if (unknown.Count > 0)
            throw new TailorException($"UpdatableLayers: {string.Join(", ", unknown.Select(n => $"'{n}'"))} {(unknown.Count > 1 ? "are not" : "is not one")} of the model's updatable layers; " +
                $"it has {allowed} (ModelBuilder.ConfigureTraining or PrepareOptions.UpdatableLayers marks others).");
        return spec.UpdatableLayers.Where(l => chosen.Contains(l.Name)).ToList();
    }

    /// <summary>
    /// Plans fitting a head (k-NN or logistic regression) on the features at <paramref name="cut"/> (a cut with no suffix,
    /// <see cref="GraphCut.AtInputsOf"/> or <see cref="GraphCut.AtTensors"/>): the same examples, label contract, slot
    /// assignment and feature cache as <see cref="Create"/>, without validation data and without starting over. The settings
    /// are the model's, with the seed and augmentation of <paramref name="options"/> and no shuffling. The plan only reads the
    /// model (for the frozen prefix): the head applies <see cref="Slots"/> to it when it commits its result.
    /// <paramref name="appendSlots"/>: labels beyond the free slots are appended (see <see cref="SlotAssignment.For"/>).
    /// </summary>
    /// <exception cref="TailorException">Data that lacks a trained label, a label beyond the capacity (without
    /// <paramref name="appendSlots"/>), a bad kept-examples file.</exception>
    internal static TrainingPlan ForHead(UpdatableModel model, LabeledFolder train, TrainingOptions options, GraphCut cut, bool appendSlots)
    {
        var spec = model.Spec;
        var defaults = TrainingSettings.Resolve(new TrainingOptions(), spec);
        var settings = defaults with
        {
            Seed = options.Seed ?? defaults.Seed,
            Augmentation = options.Augmentation ?? AugmentationOptions.None,
            Shuffle = false,
        };
        var examples = TrainingExamples.Plan(spec, train, options.ReplayExamplesPath, options.Forget, options.KeepExamplesPath is not null);
        var slots = SlotAssignment.For(spec.Labels, examples.Labels, validation: null, appendSlots);
        // The working model runs only the frozen prefix and is never written (the head commits into the model itself): no copy.
        return new TrainingPlan(model, train, null, options, settings, examples, train.Examples, null, slots, model, startsOver: false, cut)
        {
            _headPlan = true,
            _appendSlots = appendSlots,
        };
    }

    /// <summary>The model the plan was made for; unchanged by the plan and by sessions (export a result to change it).</summary>
    public UpdatableModel Model { get; }

    /// <summary>The options given.</summary>
    public TrainingOptions Options { get; }

    /// <summary>The settings in force, resolved once.</summary>
    public TrainingSettings Settings { get; }

    /// <summary>Which labels take which slots, and which slots are live (see <see cref="SlotAssignment"/>).</summary>
    public SlotAssignment Slots { get; private set; }

    /// <summary>Where the graph is cut: the cut tensors the feature cache holds, and the suffix nodes the session trains.</summary>
    public GraphCut Cut { get; }

    /// <summary>True when the training starts from the model's initial weights because it replays kept examples
    /// (<see cref="TrainingOptions.StartOverWhenReplaying"/>).</summary>
    public bool StartsOver { get; }

    internal TrainingExamples Examples { get; }

    internal IReadOnlyList<LabeledExample> TrainExamples { get; }

    internal IReadOnlyList<LabeledExample>? ValidationExamples { get; }

    /// <summary>The copy the sessions train: the model with <see cref="Slots"/> applied.</summary>
    internal UpdatableModel Working => _working;

    /// <summary>The shape of one example of each cut tensor (from the prefix's ONNX Runtime session).</summary>
    internal IReadOnlyList<int[]> CutShapes => _cutShapes ??= [.. Extractor().Shapes];

    /// <summary>The frozen prefix's session, opened once; the kept examples to replay are checked against it.</summary>
    /// <exception cref="TailorException">Kept examples from another cut or backbone, or stale.</exception>
    internal FeatureExtractor Extractor()
    {
        if (_extractor is null && _bound)
            throw new InvalidOperationException("The features of this plan were computed (or the plan disposed): ComputeFeatures runs once per plan.");
        if (_extractor is null)
        {
            _extractor = new FeatureExtractor(_working, Cut, Options.ExecutionProvider);
            _cutShapes = [.. _extractor.Shapes];
            _bound = true;
            Examples.Bind(_extractor);
        }
        return _extractor;
    }

    /// <summary>
    /// Runs the frozen prefix once on every training example (and each augmented variant) and every validation
    /// example, and caches the cut tensors; the ONNX Runtime session is released afterwards.
    /// </summary>
    /// <exception cref="TailorException">An example cannot be read (without <see cref="TrainingOptions.SkipBadExamples"/>),
    /// or no photo of a trained label can be read (without <see cref="TrainingOptions.Forget"/>).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="InvalidOperationException">Called a second time, or after <see cref="Dispose"/>.</exception>
    public TrainingData ComputeFeatures(IProgress<FeatureProgress>? progress = null, CancellationToken cancellationToken = default) =>
        TryComputeFeatures(progress, cancellationToken, out string? failure) ?? throw new TailorException(failure!);

    /// <summary><see cref="ComputeFeatures"/>, with a failure returned as its message (and null data) instead of thrown.</summary>
    internal TrainingData? TryComputeFeatures(IProgress<FeatureProgress>? progress, CancellationToken cancellationToken, out string? failure)
    {
        failure = null;
        var clock = Stopwatch.StartNew();
        var extractor = Extractor();
        var settings = Settings;
        var examples = Examples;
        FeatureCache? trainCache = null, validationCache = null;
        try
        {
            (trainCache, var failures) = FeatureCache.Build(extractor, TrainExamples.Select(e => e.Path).ToList(), settings.Augmentation, settings.Seed,
                Options.Cache, progress, cancellationToken);
            if (failures.Count > 0 && !Options.SkipBadExamples)
            {
                failure = TrainingExamples.UnreadableMessage(failures);
                return null;
            }
            var skipped = failures.Select(f => (f.Path, f.Reason)).ToList();
            var bad = failures.Select(f => f.Example).ToHashSet();
            // A label none of whose photos could be read takes no slot; one the model was trained on is then missing.
            var withoutExamples = examples.LabelsWithoutExamples(bad);
            if (withoutExamples.Count > 0)
            {
                var spec = Model.Spec;
                var lost = withoutExamples.Where(l => spec.TrainedExamples?.Keys.Contains(l, LabelComparer.Instance) == true).ToList();
                if (lost.Count > 0 && !Options.Forget)
                {
                    failure = "No photo of a trained label could be read: " + TrainingExamples.ForgettingMessage(
                        lost.Select(l => spec.TrainedExamples!.First(p => LabelComparer.Instance.Equals(p.Key, l))).ToList(), _train.Root, examples.Replays);
                    return null;
                }
                if (withoutExamples.Any(Slots.NewLabels.ContainsKey))
                {
                    if (!_headPlan) ModelBuilder.WriteLabels(_working, _labelsBefore);
                    var kept = examples.Labels.Except(withoutExamples, LabelComparer.Instance).ToList();
                    Slots = SlotAssignment.For(_labelsBefore, kept, _validation, _appendSlots);
                    if (!_headPlan) Slots.ApplyTo(_working);
                }
            }
            trainCache = examples.Replay(trainCache, Options.Cache);
            var labels = Slots.Labels;
            var trainSlots = Enumerable.Range(0, examples.Count).Select(i => bad.Contains(i) ? -1 : labels.IndexOf(examples.LabelOf(i))).ToArray();
            int[]? validationSlots = null;
            if (ValidationExamples is { } validation)
            {
                (validationCache, var vFailures) = FeatureCache.Build(extractor, validation.Select(e => e.Path).ToList(),
                    AugmentationOptions.None, settings.Seed, Options.Cache, null, cancellationToken);
                var vBad = vFailures.Select(f => f.Example).ToHashSet();
                skipped.AddRange(vFailures.Select(f => (f.Path, f.Reason)));
                validationSlots = validation.Select((e, i) => vBad.Contains(i) ? -1 : labels.IndexOf(e.Label)).ToArray();
            }
            var data = new TrainingData(
                new FeatureSet(trainCache, trainSlots, settings.Seed, settings.Shuffle),
                validationCache is null ? null : new FeatureSet(validationCache, validationSlots!, settings.Seed, shuffle: false),
                skipped, bad, withoutExamples, clock.Elapsed.TotalSeconds);
            trainCache = validationCache = null;
            return data;
        }
        finally
        {
            trainCache?.Dispose();
            validationCache?.Dispose();
            // Training needs the cached features only: the prefix's session (hundreds of MB for a backbone) goes now.
            ReleaseExtractor();
        }
    }

    private void ReleaseExtractor()
    {
        _extractor?.Dispose();
        _extractor = null;
    }

    /// <summary>Back to the model's initial weights (<see cref="ModelBuilder.Reset"/>); false, weights untouched, when the
    /// base model of fine-tuned layers is not known.</summary>
    private static bool TryStartOver(UpdatableModel working)
    {
        try
        {
            ModelBuilder.Reset(working);
            return true;
        }
        catch (TailorException)
        {
            return false;
        }
    }

    /// <summary>Releases the frozen prefix's ONNX Runtime session if it is still open.</summary>
    public void Dispose()
    {
        ReleaseExtractor();
        _bound = true;
    }
}

/// <summary>The cached features of a training (<see cref="TrainingPlan.ComputeFeatures"/>): the training set, the
/// validation set if any, and what could not be read.</summary>
public sealed class TrainingData : IDisposable
{
    internal TrainingData(FeatureSet train, FeatureSet? validation, IReadOnlyList<(string Path, string Reason)> skipped,
        IReadOnlySet<int> unreadable, IReadOnlyList<string> labelsWithoutExamples, double seconds)
    {
        Train = train;
        Validation = validation;
        Skipped = skipped;
        Unreadable = unreadable;
        LabelsWithoutExamples = labelsWithoutExamples;
        Seconds = seconds;
    }

    /// <summary>Every readable training example × augmented variant (and the kept examples replayed).</summary>
    public FeatureSet Train { get; }

    /// <summary>The validation examples (no augmentation), or null without validation data.</summary>
    public FeatureSet? Validation { get; }

    /// <summary>Examples skipped because they could not be read (with <see cref="TrainingOptions.SkipBadExamples"/>).</summary>
    public IReadOnlyList<(string Path, string Reason)> Skipped { get; }

    /// <summary>Labels of the data none of whose photos could be read: they took no slot.</summary>
    public IReadOnlyList<string> LabelsWithoutExamples { get; }

    /// <summary>Seconds spent decoding the images and running the frozen prefix.</summary>
    public double Seconds { get; }

    /// <summary>Indexes of the training examples that could not be read.</summary>
    internal IReadOnlySet<int> Unreadable { get; }

    /// <summary>Deletes the features (and their temporary file, if they spilled to disk).</summary>
    public void Dispose()
    {
        Train.Dispose();
        Validation?.Dispose();
    }
}
