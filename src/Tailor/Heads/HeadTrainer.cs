using System.Diagnostics;
using Tailor.Building;
using Tailor.Data;
using Tailor.Features;
using Tailor.Images;
using Tailor.Onnx;
using Tailor.Spec;
using Tailor.Training;

namespace Tailor.Heads;

/// <summary>Options that every head fitted by <see cref="HeadTrainer"/> takes; each head's own are in
/// <see cref="KnnTrainingOptions"/> and <see cref="LogisticRegressionTrainingOptions"/>.</summary>
public abstract record HeadTrainingOptions
{
    /// <summary>Augmented copies added as extra examples (variant 0 is the original). Default: none — on the
    /// hands photos, mirrored and rotated copies (flip,rotate:15,variants:4) cost both k-NN and logistic
    /// regression a test photo (12 → 11/15), unlike the fine-tuned network head.</summary>
    public AugmentationOptions Augmentation { get; init; } = AugmentationOptions.None;

    /// <summary>Seed of the augmentation. Default <see cref="TrainingDefaults.Seed"/>.</summary>
    public int Seed { get; init; } = TrainingDefaults.Seed;

    /// <summary>Skip unreadable examples (reported) instead of failing. Default false.</summary>
    public bool SkipBadExamples { get; init; }

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

/// <summary>Options for <see cref="HeadTrainer.TrainKnn"/>.</summary>
public sealed record KnnTrainingOptions : HeadTrainingOptions
{
    /// <summary>Neighbours; null keeps the model's (or <see cref="TrainingDefaults.KnnK"/>). Allowed 1..100.</summary>
    public int? K { get; init; }

    /// <summary>Vote weighting; null keeps the model's (or <see cref="TrainingDefaults.KnnWeighting"/>).</summary>
    public KnnWeighting? Weighting { get; init; }

    /// <summary>Distance; null keeps the model's (or <see cref="TrainingDefaults.KnnMetric"/>).</summary>
    public KnnMetric? Metric { get; init; }
}

/// <summary>Options for <see cref="HeadTrainer.TrainLogisticRegression"/>.</summary>
public sealed record LogisticRegressionTrainingOptions : HeadTrainingOptions
{
    /// <summary>L2 strength λ. Default <see cref="TrainingDefaults.LogisticRegressionL2"/> (0.0003,
    /// measured there).</summary>
    public double L2 { get; init; } = TrainingDefaults.LogisticRegressionL2;

    /// <summary>When set, the L2 strength is chosen among these by stratified cross-validation
    /// (<see cref="LogisticRegression.CrossValidateL2"/>; <see cref="LogisticRegression.DefaultL2Candidates"/> is a
    /// good grid), and <see cref="L2"/> is ignored. Default: none (use <see cref="L2"/>).</summary>
    public IReadOnlyList<double>? L2Candidates { get; init; }

    /// <summary>L-BFGS iteration limit. Default <see cref="TrainingDefaults.LbfgsMaxIterations"/>.</summary>
    public int MaxIterations { get; init; } = TrainingDefaults.LbfgsMaxIterations;
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

    /// <summary>Logistic regression with <see cref="LogisticRegressionTrainingOptions.L2Candidates"/>: the cross-validation behind the choice.</summary>
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
    public static HeadTrainingResult TrainKnn(UpdatableModel model, LabeledFolder data, KnnTrainingOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new KnnTrainingOptions();
        bool storing = KnnOnnxExport.HasKnn(model.Proto);
        if (options.KeepExamplesPath is not null)
            throw new TailorException("A k-NN keeps every example it learns in the model itself; KeepExamplesPath is for the other heads.");
        if (storing && options.ReplayExamplesPath is not null)
            throw new TailorException("This model's k-NN already stores the examples it learned; ReplayExamplesPath would store them twice.");
        // A k-NN model has no classifier node left: its features tensor is the cut. A k-NN that stores examples keeps them:
        // adding to it forgets nothing. One replacing a trained classifier starts empty. A k-NN has no fixed capacity.
        var cut = model.Spec.Head == HeadKind.KNearestNeighbors ? GraphCut.AtTensors([model.Spec.Features]) : ClassifierInput(model);
        using var plan = TrainingPlan.ForHead(model, data, PlanOptions(options, forget: options.Forget || storing), cut, appendSlots: true);
        using var computed = Compute(plan, data, options, cancellationToken);
        var (features, dim, rowExamples, _) = computed.Train.ToMatrix();
        var clock = Stopwatch.StartNew();
        var knn = storing
            ? KnnOnnxExport.Read(model.Proto)
            : new KNearestNeighbors(dim, options.K ?? TrainingDefaults.KnnK, options.Weighting ?? TrainingDefaults.KnnWeighting, options.Metric ?? TrainingDefaults.KnnMetric);
        if (knn.Dimension != dim)
            throw new TailorException($"The model's k-NN stores {knn.Dimension}-long features, but its backbone now gives {dim}.");
        if (options.K is int k) knn.K = k;
        if (options.Weighting is { } w) knn.Weighting = w;
        if (options.Metric is { } m && m != knn.Metric)
            throw new TailorException($"The model's k-NN uses the {knn.Metric} metric; its stored examples cannot switch to {m}. Prepare a new model.");
        for (int i = 0; i < rowExamples.Length; i++)
            knn.Add(features.AsSpan(i * dim, dim), plan.Examples.LabelOf(rowExamples[i]));
        // The k-NN replaces the fully-connected head: drop the nodes after the features so its outputs
        // (probabilities, label) have one producer each.
        var backbone = model.Proto.Clone();
        if (!storing)
        {
            backbone.Graph.Output.Clear();
            backbone.Graph.Output.Add(new global::Onnx.ValueInfoProto { Name = model.Spec.Features });
            backbone.Graph.PruneTo([model.Spec.Features]);
        }
        var slots = plan.Slots.Labels;
        var proto = KnnOnnxExport.Export(backbone, knn, new KnnExportOptions
        {
            FeatureTensor = model.Spec.Features,
            ProbabilitiesOutput = model.Spec.ProbabilitiesOutput,
            LabelOutput = model.Spec.LabelOutput,
            Labels = slots.Names,
        });
        // Commit: until here the model is unchanged.
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
            TrainedExamples = StoredCounts(knn, slots, computed.Train.Variants),
        });
        return Result(plan, computed, clock) with { StoredExamples = knn.Count, Forgotten = storing ? [] : plan.Examples.Forgotten };
    }

    /// <summary>
    /// Trains multinomial logistic regression by L-BFGS on the features and writes W and b into the
    /// classifier layer (fully-connected + softmax), so the model predicts as before and can go on
    /// training by SGD/Adam (<c>tailor train --head nn</c>). Labels the model does not know take free
    /// slots; slots without examples (free placeholders, labels not in the data) get a zero row and a very
    /// negative bias, and the slot mask gives them probability exactly 0.
    /// </summary>
    public static HeadTrainingResult TrainLogisticRegression(UpdatableModel model, LabeledFolder data, LogisticRegressionTrainingOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new LogisticRegressionTrainingOptions();
        if (model.Spec.Head == HeadKind.KNearestNeighbors)
            throw new TailorException("This model's head is a k-NN; logistic regression needs a model with a fully-connected classifier (ModelBuilder.Prepare makes one).");
        // The plan claims the slots before the features: a label beyond the capacity fails fast.
        using var plan = TrainingPlan.ForHead(model, data, PlanOptions(options, options.Forget), ClassifierInput(model), appendSlots: false);
        using var computed = Compute(plan, data, options, cancellationToken);
        var (features, dim, _, slots) = computed.Train.ToMatrix();
        var spec = model.Spec;
        var (weightName, biasName) = ClassifierParameters(model, dim);
        var clock = Stopwatch.StartNew();
        // The graph already L2-normalizes the features when the model was prepared that way; the head
        // itself must not normalize again, or its weights would not fit the plain Gemm layout.
        var lbfgs = new LogisticRegressionOptions { L2 = options.L2, NormalizeFeatures = false, MaxIterations = options.MaxIterations };
        int variants = computed.Train.Variants;
        var labels = plan.Slots.Labels;
        var selection = options.L2Candidates is { } candidates
            ? LogisticRegression.CrossValidateL2(features, slots, labels.Capacity, candidates, variants, options: lbfgs,
                classNames: labels.Names, cancellationToken: cancellationToken)
            : null;
        if (selection is not null) lbfgs = lbfgs with { L2 = selection.Chosen };
        var trained = LogisticRegression.Train(features, slots, labels.Capacity, lbfgs, cancellationToken);
        // Commit: until here the model is unchanged.
        plan.Slots.ApplyTo(model);
        model.SetParameter(weightName, trained.Weights);
        if (biasName is not null) model.SetParameter(biasName, trained.Bias);
        model.SetSpec(model.Spec with { Head = HeadKind.LogisticRegression, TrainedExamples = plan.Examples.Record(model.Spec.Labels, computed.Unreadable) });
        int keptCount = options.KeepExamplesPath is { } keep ? plan.Examples.Keep(keep, computed.Train.Cache, computed.Unreadable) : 0;
        return Result(plan, computed, clock) with
        {
            Lbfgs = trained.Training, L2 = lbfgs.L2, L2Selection = selection, KeptExamples = keptCount, Forgotten = plan.Examples.Forgotten,
        };
    }

    /// <summary>The cut at the classifier layer's input: the features a head fitted in its place reads.</summary>
    private static GraphCut ClassifierInput(UpdatableModel model)
    {
        var cut = GraphCut.AtInputsOf(model.Proto.Graph, model.Spec.Classifier);
        if (cut.CutTensors.Count != 1)
            throw new TailorException($"The classifier '{model.Spec.Classifier}' reads {cut.CutTensors.Count} tensors; k-NN and logistic regression need one feature tensor.");
        return cut;
    }

    /// <summary>The plan's options: what the head options share with a training's.</summary>
    private static TrainingOptions PlanOptions(HeadTrainingOptions options, bool forget) => new()
    {
        Augmentation = options.Augmentation,
        Seed = options.Seed,
        SkipBadExamples = options.SkipBadExamples,
        Cache = options.Cache,
        ExecutionProvider = options.ExecutionProvider,
        Forget = forget,
        ReplayExamplesPath = options.ReplayExamplesPath,
        KeepExamplesPath = options.KeepExamplesPath,
    };

    /// <summary>The plan's features (its unreadable-example and lost-label checks), with at least one readable row.</summary>
    private static TrainingData Compute(TrainingPlan plan, LabeledFolder data, HeadTrainingOptions options, CancellationToken cancellationToken)
    {
        var computed = plan.ComputeFeatures(options.Progress, cancellationToken);
        if (computed.Train.Count == 0)
        {
            computed.Dispose();
            throw new TailorException($"No example in '{data.Root}' could be read.");
        }
        return computed;
    }

    /// <summary>What every head reports.</summary>
    private static HeadTrainingResult Result(TrainingPlan plan, TrainingData computed, Stopwatch clock) => new()
    {
        Examples = computed.Train.Count / computed.Train.Variants, Variants = computed.Train.Variants, FeatureSeconds = computed.Seconds,
        TrainSeconds = clock.Elapsed.TotalSeconds, Skipped = computed.Skipped, NewLabels = plan.Slots.NewLabels,
        Replayed = plan.Examples.Replayed, LabelsWithoutExamples = computed.LabelsWithoutExamples,
    };

    /// <summary>The classifier's weight [classes, features] and bias (null without one).</summary>
    private static (string Weight, string? Bias) ClassifierParameters(UpdatableModel model, int dim)
    {
        var layer = model.Spec.UpdatableLayers.FirstOrDefault(l => l.Name == model.Spec.Classifier)
            ?? throw new TailorException($"The classifier '{model.Spec.Classifier}' is not updatable.");
        var shape = model.GetParameterShape(layer.Parameters[0]);
        var node = model.Proto.Graph.FindNode(layer.Name) ?? throw new TailorException($"The classifier '{layer.Name}' is not in the graph.");
        bool rowsAreClasses = node.OpType == "Conv" || (node.OpType == "Gemm" && node.IntAttribute("transB", 0) == 1);
        if (!rowsAreClasses || shape[0] != model.Spec.Labels.Capacity || shape.Skip(1).Aggregate(1L, (a, d) => a * d) != dim)
            throw new TailorException($"The classifier '{layer.Name}' ({node.OpType}, weight [{string.Join(", ", shape)}]) is not a [classes, {dim}] fully-connected layer; logistic regression cannot be written into it.");
        return (layer.Parameters[0], layer.Parameters.Count > 1 ? layer.Parameters[1] : null);
    }

    /// <summary>Stored examples per label (augmented copies are stored as examples of their own: counted once per photo).</summary>
    private static Dictionary<string, int> StoredCounts(KNearestNeighbors knn, ClassLabels slots, int variants)
    {
        var counts = new Dictionary<string, int>(LabelComparer.Instance);
        for (int i = 0; i < knn.Count; i++) counts[knn.GetLabel(i)] = counts.GetValueOrDefault(knn.GetLabel(i)) + 1;
        return counts.OrderBy(p => slots.IndexOf(p.Key) is int s && s >= 0 ? s : int.MaxValue)
            .ToDictionary(p => p.Key, p => Math.Max(1, p.Value / Math.Max(1, variants)));
    }
}
