using System.Diagnostics;
using Tailor.Building;
using Tailor.Data;
using Tailor.Features;
using Tailor.Images;
using Tailor.Spec;
using Tailor.Training;

namespace Tailor.Heads;

/// <summary>Options for <see cref="HeadTrainer"/>.</summary>
public sealed record HeadTrainingOptions
{
    /// <summary>Augmented copies added as extra examples (variant 0 is the original). Default: none — on the
    /// hands photos, mirrored and rotated copies (flip,rotate:15,variants:4) cost both k-NN and logistic
    /// regression a test photo (12 → 11/15), unlike the fine-tuned network head.</summary>
    public AugmentationOptions Augmentation { get; init; } = AugmentationOptions.None;

    /// <summary>Seed of the augmentation. Default <see cref="TrainingDefaults.Seed"/>.</summary>
    public int Seed { get; init; } = TrainingDefaults.Seed;

    /// <summary>Skip unreadable examples (reported) instead of failing. Default false.</summary>
    public bool SkipBadExamples { get; init; }

    /// <summary>k-NN: neighbours; null keeps the model's (or <see cref="TrainingDefaults.KnnK"/>). Allowed 1..100.</summary>
    public int? K { get; init; }

    /// <summary>k-NN: vote weighting; null keeps the model's (or <see cref="TrainingDefaults.KnnWeighting"/>).</summary>
    public KnnWeighting? Weighting { get; init; }

    /// <summary>k-NN: distance; null keeps the model's (or <see cref="TrainingDefaults.KnnMetric"/>).</summary>
    public KnnMetric? Metric { get; init; }

    /// <summary>Logistic regression: L2 strength λ. Default <see cref="TrainingDefaults.LogisticRegressionL2"/> (0.0003,
    /// measured there).</summary>
    public double L2 { get; init; } = TrainingDefaults.LogisticRegressionL2;

    /// <summary>Logistic regression: when set, the L2 strength is chosen among these by stratified cross-validation
    /// (<see cref="LogisticRegression.CrossValidateL2"/>; <see cref="LogisticRegression.DefaultL2Candidates"/> is a
    /// good grid), and <see cref="L2"/> is ignored. Default: none (use <see cref="L2"/>).</summary>
    public IReadOnlyList<double>? L2Candidates { get; init; }

    /// <summary>Logistic regression: L-BFGS iteration limit. Default <see cref="TrainingDefaults.LbfgsMaxIterations"/>.</summary>
    public int MaxIterations { get; init; } = TrainingDefaults.LbfgsMaxIterations;

    public FeatureCacheOptions Cache { get; init; } = new();

    /// <summary>The ONNX Runtime execution provider feature extraction runs on: <c>cpu</c> (default), <c>cuda</c>,
    /// <c>directml</c>… (see <see cref="Onnx.ExecutionProviders"/>). The head itself is fitted by Tailor's managed code.</summary>
    public string ExecutionProvider { get; init; } = Onnx.ExecutionProviders.Cpu;

    /// <summary>Train even when the data lacks labels the model was trained on (<see cref="UpdateSpec.TrainedExamples"/>);
    /// as <see cref="Training.TrainingOptions.Forget"/>. A k-NN that already stores examples keeps them, so adding to it
    /// forgets nothing and is never refused; a k-NN replacing a trained classifier is checked. Default false.</summary>
    public bool Forget { get; init; }

    /// <summary>Logistic regression (or a k-NN replacing a trained classifier): kept examples to train on beside the
    /// data; as <see cref="Training.TrainingOptions.ReplayExamplesPath"/>. They must have been kept from the classifier's
    /// input. Default: none.</summary>
    public string? ReplayExamplesPath { get; init; }

    /// <summary>Logistic regression: where to keep this training's examples (the classifier-input features of every
    /// readable photo and replayed example); as <see cref="Training.TrainingOptions.KeepExamplesPath"/>. A k-NN keeps
    /// its examples in the model and takes none. Default: none.</summary>
    public string? KeepExamplesPath { get; init; }

    /// <summary>Reports feature extraction (images done of the total, variants included). Default: none.</summary>
    public IProgress<FeatureProgress>? Progress { get; init; }
}

/// <summary>What a head training did.</summary>
public sealed record HeadTrainingResult
{
    public int Examples { get; init; }
    public int Variants { get; init; }
    public double FeatureSeconds { get; init; }
    public double TrainSeconds { get; init; }
    public IReadOnlyList<(string Path, string Reason)> Skipped { get; init; } = [];
    public IReadOnlyDictionary<string, int> NewLabels { get; init; } = new Dictionary<string, int>();

    /// <summary>Logistic regression: convergence report of L-BFGS (not converged still keeps the best iterate).</summary>
    public LogisticRegressionTraining? Lbfgs { get; init; }

    /// <summary>Logistic regression: the L2 strength used.</summary>
    public double? L2 { get; init; }

    /// <summary>Logistic regression with <see cref="HeadTrainingOptions.L2Candidates"/>: the cross-validation behind the choice.</summary>
    public L2Selection? L2Selection { get; init; }

    /// <summary>k-NN: examples stored after this training (previous ones included).</summary>
    public int StoredExamples { get; init; }

    /// <summary>Kept examples replayed (<see cref="HeadTrainingOptions.ReplayExamplesPath"/>).</summary>
    public int Replayed { get; init; }

    /// <summary>Examples written to <see cref="HeadTrainingOptions.KeepExamplesPath"/>.</summary>
    public int KeptExamples { get; init; }

    /// <summary>Trained labels this training left out (with <see cref="HeadTrainingOptions.Forget"/>).</summary>
    public IReadOnlyList<string> Forgotten { get; init; } = [];

    /// <summary>Labels none of whose photos could be read (with <see cref="HeadTrainingOptions.SkipBadExamples"/>): they took no slot.</summary>
    public IReadOnlyList<string> LabelsWithoutExamples { get; init; } = [];
}

/// <summary>
/// Trains the k-NN and logistic-regression heads on the cached features of the model's backbone (the
/// classifier's input) and writes them into the model as standard ONNX.
/// </summary>
public static class HeadTrainer
{
    /// <summary>Adds the examples of <paramref name="data"/> to the model's k-NN (creating it when the model
    /// has none; a model that already holds examples keeps them) and writes it as ONNX nodes.</summary>
    /// <remarks>The model's labels keep their slots (placeholders included), so the probabilities stay
    /// [N, capacity] in slot order and an app indexing them is not broken. A new label takes the first free
    /// placeholder slot, or, when none is free, a new slot appended after the last (a k-NN has no fixed
    /// capacity). A label without stored examples — a free placeholder, or a label never trained — gets
    /// probability exactly 0.</remarks>
    /// <exception cref="TailorException">Unreadable examples (without skipping), k outside 1..100.</exception>
    public static HeadTrainingResult TrainKnn(UpdatableModel model, LabeledFolder data, HeadTrainingOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new HeadTrainingOptions();
        bool storing = KnnOnnxExport.HasKnn(model.Proto);
        if (options.KeepExamplesPath is not null)
            throw new TailorException("A k-NN keeps every example it learns in the model itself; KeepExamplesPath is for the other heads.");
        if (storing && options.ReplayExamplesPath is not null)
            throw new TailorException("This model's k-NN already stores the examples it learned; ReplayExamplesPath would store them twice.");
        // A k-NN that stores examples keeps them: adding to it forgets nothing. One replacing a trained classifier starts empty.
        var examples = TrainingExamples.Plan(model.Spec, data, options.ReplayExamplesPath, options.Forget || storing, keep: false);
        var (features, labels, variants, skipped, featureSeconds, dim, without, cache, _) = Features(model, data, examples, options, cancellationToken);
        cache.Dispose();
        var clock = Stopwatch.StartNew();
        var knn = KnnOnnxExport.HasKnn(model.Proto)
            ? KnnOnnxExport.Read(model.Proto)
            : new KNearestNeighbors(dim, options.K ?? TrainingDefaults.KnnK, options.Weighting ?? TrainingDefaults.KnnWeighting, options.Metric ?? TrainingDefaults.KnnMetric);
        if (knn.Dimension != dim)
            throw new TailorException($"The model's k-NN stores {knn.Dimension}-long features, but its backbone now gives {dim}.");
        if (options.K is int k) knn.K = k;
        if (options.Weighting is { } w) knn.Weighting = w;
        if (options.Metric is { } m && m != knn.Metric)
            throw new TailorException($"The model's k-NN uses the {knn.Metric} metric; its stored examples cannot switch to {m}. Prepare a new model.");
        for (int i = 0; i < labels.Length; i++)
            knn.Add(features.AsSpan(i * dim, dim), labels[i]);
        // The k-NN replaces the fully-connected head: drop the nodes after the features so its outputs
        // (probabilities, label) have one producer each.
        var backbone = model.Proto.Clone();
        if (!KnnOnnxExport.HasKnn(backbone))
        {
            backbone.Graph.Output.Clear();
            backbone.Graph.Output.Add(new global::Onnx.ValueInfoProto { Name = model.Spec.Features });
            ModelBuilder.PruneTo(backbone.Graph, [model.Spec.Features]);
        }
        var slots = model.Spec.Labels;
        var newLabels = new Dictionary<string, int>();
        foreach (string label in labels.Distinct(LabelComparer.Instance).Where(l => slots.IndexOf(l) < 0))
        {
            int slot;
            if (slots.Placeholders.Count > 0)
                slots = slots.Claim(label, out slot);
            else
            {
                slot = slots.Capacity;
                slots = slots with { Names = [.. slots.Names, ClassLabels.Normalize(label)] };
            }
            newLabels[label] = slot;
        }
        var proto = KnnOnnxExport.Export(backbone, knn, new KnnExportOptions
        {
            FeatureTensor = model.Spec.Features,
            ProbabilitiesOutput = model.Spec.ProbabilitiesOutput,
            LabelOutput = model.Spec.LabelOutput,
            Labels = slots.Names,
        });
        model.ReplaceProto(proto);
        model.SetSpec(model.Spec with
        {
            Head = HeadKind.KNearestNeighbors,
            // The classifier layer is gone; a k-NN learns by storing examples, not by gradients.
            UpdatableLayers = [],
            Labels = slots,
            Hyperparameters = new Dictionary<string, Hyperparameter>(model.Spec.Hyperparameters)
            {
                [HyperparameterNames.K] = Hyperparameter.Int(knn.K, AllowedValues.Between(KNearestNeighbors.MinK, KNearestNeighbors.MaxK)),
            },
        });
        model.SetSpec(model.Spec with { TrainedExamples = StoredCounts(knn, model.Spec.Labels, variants) });
        return new HeadTrainingResult
        {
            Examples = labels.Length / variants, Variants = variants, FeatureSeconds = featureSeconds, TrainSeconds = clock.Elapsed.TotalSeconds,
            Skipped = skipped, NewLabels = newLabels, StoredExamples = knn.Count,
            Replayed = examples.Replayed, Forgotten = storing ? [] : examples.Forgotten, LabelsWithoutExamples = without,
        };
    }

    /// <summary>
    /// Trains multinomial logistic regression by L-BFGS on the features and writes W and b into the
    /// classifier layer (fully-connected + softmax), so the model predicts as before and can go on
    /// training by SGD/Adam (<c>tailor train --head nn</c>). Labels the model does not know take free
    /// slots; slots without examples (free placeholders, labels not in the data) get a zero row and a very
    /// negative bias, and the slot mask gives them probability exactly 0.
    /// </summary>
    public static HeadTrainingResult TrainLogisticRegression(UpdatableModel model, LabeledFolder data, HeadTrainingOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new HeadTrainingOptions();
        if (model.Spec.Head == HeadKind.KNearestNeighbors)
            throw new TailorException("This model's head is a k-NN; logistic regression needs a model with a fully-connected classifier (ModelBuilder.Prepare makes one).");
        var examples = TrainingExamples.Plan(model.Spec, data, options.ReplayExamplesPath, options.Forget, options.KeepExamplesPath is not null);
        var labelsBefore = model.Spec.Labels;
        var newLabels = ClaimLabels(model, examples.Labels);   // before the features: a label beyond the capacity fails fast
        var (features, labels, variants, skipped, featureSeconds, dim, without, cache, unreadable) = Features(model, data, examples, options, cancellationToken);
        using var kept = cache;
        if (without.Any(newLabels.ContainsKey))
        {
            // A label none of whose photos could be read takes no slot.
            ModelBuilder.WriteLabels(model, labelsBefore);
            newLabels = ClaimLabels(model, examples.Labels.Except(without, LabelComparer.Instance));
        }
        var spec = model.Spec;
        var slots = labels.Select(spec.Labels.IndexOf).ToArray();
        ModelBuilder.SetLiveSlots(model, slots.Distinct());
        var clock = Stopwatch.StartNew();
        // The graph already L2-normalizes the features when the model was prepared that way; the head
        // itself must not normalize again, or its weights would not fit the plain Gemm layout.
        var lbfgs = new LogisticRegressionOptions { L2 = options.L2, NormalizeFeatures = false, MaxIterations = options.MaxIterations };
        var selection = options.L2Candidates is { } candidates
            ? LogisticRegression.CrossValidateL2(features, slots, spec.Labels.Capacity, candidates, variants, options: lbfgs,
                classNames: spec.Labels.Names, cancellationToken: cancellationToken)
            : null;
        if (selection is not null) lbfgs = lbfgs with { L2 = selection.Chosen };
        var trained = LogisticRegression.Train(features, slots, spec.Labels.Capacity, lbfgs, cancellationToken);
        string weightName = ClassifierWeight(model, dim);
        var layer = spec.UpdatableLayers.FirstOrDefault(l => l.Name == spec.Classifier) ?? throw new TailorException($"The classifier '{spec.Classifier}' is not updatable.");
        model.SetParameter(weightName, trained.Weights);
        if (layer.Parameters.Count > 1) model.SetParameter(layer.Parameters[1], trained.Bias);
        model.SetSpec(model.Spec with { Head = HeadKind.LogisticRegression, TrainedExamples = examples.Record(model.Spec.Labels, unreadable) });
        int keptCount = options.KeepExamplesPath is { } keep ? examples.Keep(keep, cache, unreadable) : 0;
        return new HeadTrainingResult
        {
            Examples = labels.Length / variants, Variants = variants, FeatureSeconds = featureSeconds, TrainSeconds = clock.Elapsed.TotalSeconds,
            Skipped = skipped, NewLabels = newLabels, Lbfgs = trained.Training, L2 = lbfgs.L2, L2Selection = selection,
            Replayed = examples.Replayed, KeptExamples = keptCount, Forgotten = examples.Forgotten, LabelsWithoutExamples = without,
        };
    }

    private static string ClassifierWeight(UpdatableModel model, int dim)
    {
        var layer = model.Spec.UpdatableLayers.FirstOrDefault(l => l.Name == model.Spec.Classifier)
            ?? throw new TailorException($"The classifier '{model.Spec.Classifier}' is not updatable.");
        var shape = model.GetParameterShape(layer.Parameters[0]);
        var node = model.Proto.Graph.Node.First(n => n.Name == layer.Name);
        bool rowsAreClasses = node.OpType == "Conv" || (node.OpType == "Gemm" && node.Attribute.Any(a => a.Name == "transB" && a.I == 1));
        if (!rowsAreClasses || shape[0] != model.Spec.Labels.Capacity || shape.Skip(1).Aggregate(1L, (a, d) => a * d) != dim)
            throw new TailorException($"The classifier '{layer.Name}' ({node.OpType}, weight [{string.Join(", ", shape)}]) is not a [classes, {dim}] fully-connected layer; logistic regression cannot be written into it.");
        return layer.Parameters[0];
    }

    private static IReadOnlyDictionary<string, int> ClaimLabels(UpdatableModel model, IEnumerable<string> dataLabels)
    {
        var labels = model.Spec.Labels.ClaimAll(dataLabels, out var added);
        if (added.Count > 0) ModelBuilder.WriteLabels(model, labels);
        return added;
    }

    /// <summary>Stored examples per label (augmented copies are stored as examples of their own: counted once per photo).</summary>
    private static Dictionary<string, int> StoredCounts(KNearestNeighbors knn, ClassLabels slots, int variants)
    {
        var counts = new Dictionary<string, int>(LabelComparer.Instance);
        for (int i = 0; i < knn.Count; i++) counts[knn.GetLabel(i)] = counts.GetValueOrDefault(knn.GetLabel(i)) + 1;
        return counts.OrderBy(p => slots.IndexOf(p.Key) is int s && s >= 0 ? s : int.MaxValue)
            .ToDictionary(p => p.Key, p => Math.Max(1, p.Value / Math.Max(1, variants)));
    }

    /// <summary>The classifier-input features of every readable example (each variant a row) and its label.</summary>
    private static (float[] Features, string[] Labels, int Variants, List<(string, string)> Skipped, double Seconds, int Dim, IReadOnlyList<string> Without,
        FeatureCache Cache, HashSet<int> Unreadable) Features(
        UpdatableModel model, LabeledFolder data, TrainingExamples examples, HeadTrainingOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        // A k-NN model has no classifier node left: its features tensor is the cut.
        var cut = model.Spec.Head == HeadKind.KNearestNeighbors
            ? GraphCut.AtTensors([model.Spec.Features])
            : GraphCut.Compute(model.Proto.Graph, model.Spec with
            {
                UpdatableLayers = [new UpdatableLayer { Name = model.Spec.Classifier, Op = "Gemm", Parameters = [] }],
            });
        if (cut.CutTensors.Count != 1)
            throw new TailorException($"The classifier '{model.Spec.Classifier}' reads {cut.CutTensors.Count} tensors; k-NN and logistic regression need one feature tensor.");
        using var extractor = new FeatureExtractor(model, cut, options.ExecutionProvider);
        examples.Bind(extractor);
        var (cache, failures) = FeatureCache.Build(extractor, data.Examples.Select(e => e.Path).ToList(), options.Augmentation, options.Seed, options.Cache, options.Progress, cancellationToken);
        try
        {
            if (failures.Count > 0 && !options.SkipBadExamples)
                throw new TailorException(TrainingExamples.UnreadableMessage(failures));
            var bad = failures.Select(f => f.Example).ToHashSet();
            var without = examples.LabelsWithoutExamples(bad);
            var trained = model.Spec.TrainedExamples;
            var lost = without.Where(l => trained?.Keys.Contains(l, LabelComparer.Instance) == true).ToList();
            if (lost.Count > 0 && !options.Forget && model.Spec.Head != HeadKind.KNearestNeighbors)
                throw new TailorException("No photo of a trained label could be read: " +
                    TrainingExamples.ForgettingMessage(lost.Select(l => trained!.First(p => LabelComparer.Instance.Equals(p.Key, l))).ToList(), data.Root, examples.Replays));
            cache = examples.Replay(cache, options.Cache);
            int dim = cache.RowLength, variants = cache.Variants;
            var rows = Enumerable.Range(0, cache.Rows).Where(r => !bad.Contains(r / variants)).ToArray();
            if (rows.Length == 0) throw new TailorException($"No example in '{data.Root}' could be read.");
            var features = new float[rows.Length * dim];
            var labels = new string[rows.Length];
            for (int i = 0; i < rows.Length; i++)
            {
                cache.Read(rows[i], features.AsSpan(i * dim, dim));
                labels[i] = examples.LabelOf(rows[i] / variants);
            }
            // The cache goes to the caller, which keeps the examples from it once the head is trained.
            return (features, labels, variants, failures.Select(f => (f.Path, f.Reason)).ToList(), clock.Elapsed.TotalSeconds, dim, without, cache, bad);
        }
        catch
        {
            cache.Dispose();
            throw;
        }
    }
}
