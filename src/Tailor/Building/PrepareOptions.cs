using Tailor.Images;
using Tailor.Spec;

namespace Tailor.Building;

/// <summary>How to initialize a layer's weights.</summary>
public enum WeightInit
{
    /// <summary>W ~ U(±√(6/fan_in)), b ~ U(±1/√fan_in), seeded (what the reference's make_nn.py does).</summary>
    KaimingUniform,
    /// <summary>All zeros.</summary>
    Zeros,
}

/// <summary>Options for <see cref="ModelBuilder.Prepare"/>: turn a feature extractor into an updatable classifier.</summary>
public sealed record PrepareOptions
{
    /// <summary>The feature extractor; null means the embedded ResNet18 (with its preprocessing model).</summary>
    public string? BaseModelPath { get; init; }

    /// <summary>The tensor of the base model to use as features; null means the base model's only output
    /// (for the embedded ResNet18: its pooled 512-d output).</summary>
    public string? FeatureOutput { get; init; }

    /// <summary>Output slots of the classifier. Default 10.</summary>
    public int Capacity { get; init; } = TrainingDefaults.Capacity;

    /// <summary>Labels for the first slots; the rest are placeholders. Default: none (all placeholders).</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary>Placeholder slots are named prefix0, prefix1…. Default "user".</summary>
    public string PlaceholderPrefix { get; init; } = "user";

    /// <summary>Divide the features by their L2 norm before the classifier (an LpNormalization node).
    /// Default true: on few examples it makes the head's accuracy less sensitive to the learning rate
    /// and regularization (measured on the hands data, see DESIGN.md).</summary>
    public bool NormalizeFeatures { get; init; } = TrainingDefaults.NormalizeFeatures;

    /// <summary>Layers to make updatable, by node name. Default (null): for the embedded ResNet18, the layers
    /// of <see cref="EmbeddedModels.ResNet18FineTunedLayers"/> and the classifier; for any other base model,
    /// the classifier only (where to fine-tune an unknown network is the caller's call). The name <c>last-block</c> stands
    /// for the layers of the network's last block and those after it: the candidate layers after the second-to-last join
    /// (an Add or Concat of two computed tensors) on the way to the output.</summary>
    public IReadOnlyList<string>? UpdatableLayers { get; init; }

    /// <summary>The main loss, on the softmax output. Default: categorical cross-entropy.</summary>
    public LossKind Loss { get; init; } = LossKind.CategoricalCrossEntropy;

    /// <summary>The main loss's weight in the sum training minimizes. Default 1.</summary>
    public double LossWeight { get; init; } = 1;

    /// <summary>Further loss terms, each with its weight (<see cref="LossSpec.ParseTerms"/> reads them from text); a term
    /// with an empty <see cref="LossSpec.Input"/> reads the probabilities output. Default: none.</summary>
    public IReadOnlyList<LossSpec>? AdditionalLosses { get; init; }

    /// <summary>The optimizer and its hyperparameter defaults. Default: Adam.</summary>
    public OptimizerKind Optimizer { get; init; } = TrainingDefaults.Optimizer;

    /// <summary>Hyperparameters that replace the built-in defaults (default and/or allowed values), by name.</summary>
    public IReadOnlyDictionary<string, Hyperparameter> Hyperparameters { get; init; } = new Dictionary<string, Hyperparameter>();

    /// <summary>The augmentation training uses unless it is given another (stored in the update spec).
    /// Default: <see cref="AugmentationOptions.FewShot"/>.</summary>
    public AugmentationOptions Augmentation { get; init; } = AugmentationOptions.FewShot;

    /// <summary>The learning-rate schedule training uses unless it is given another (stored in the update
    /// spec), in the form of <see cref="Training.Schedules.LearningRateSchedule.Parse(string)"/>. Default:
    /// <see cref="TrainingDefaults.LearningRateSchedule"/> (cosine over the run's epochs).</summary>
    public string LearningRateSchedule { get; init; } = TrainingDefaults.LearningRateSchedule;

    /// <summary>How the classifier's weights start. Default: Kaiming-uniform.</summary>
    public WeightInit Init { get; init; } = WeightInit.KaimingUniform;

    /// <summary>Seed for the weight initialization. Default 42.</summary>
    public int InitSeed { get; init; } = TrainingDefaults.InitSeed;

    /// <summary>Image → tensor settings for a base model (ignored for the embedded ResNet18, whose
    /// settings are fixed). Width and height default to the base model's input size.</summary>
    public ImagePreprocessing? Preprocessing { get; init; }

    /// <summary>Per-channel mean subtracted inside the graph, in the units the tensor has after
    /// <see cref="ImagePreprocessing.Scale"/> (base models only). Default: none.</summary>
    public IReadOnlyList<float>? Mean { get; init; }

    /// <summary>Per-channel standard deviation the graph divides by (base models only). Default: none.</summary>
    public IReadOnlyList<float>? Std { get; init; }

    /// <summary>
    /// The reference app's settings (its make_nn.py and on-device training): its network, features → dense →
    /// softmax, on the features as the backbone gives them (not L2-normalized); the classifier alone is
    /// updatable, SGD with <see cref="DefaultHyperparameters.Reference"/> (lr 0.001, momentum 0, batch 8 ∈
    /// {1, 2, 8, 16}, epochs 10 ∈ {1, 10, 50}), no augmentation and a constant learning rate; the classifier
    /// starts from zeros. Set the labels with <c>PrepareOptions.Reference with { Labels = … }</c>.
    /// </summary>
    /// <remarks>
    /// Why not normalized: one SGD step moves a logit by lr·‖x‖²·(p − y). The embedded ResNet18's features have
    /// ‖x‖ ≈ 30 (21–36 on the hands photos), so at lr 0.001 a step moves the logits by up to ~0.9; L2-normalized
    /// (‖x‖ = 1) it is 0.001, and ten epochs of 4 batches end where they began (loss ln 10, 1/15 on the test
    /// photos). Why zeros: Kaiming-uniform on these features starts the logits at an RMS of 2.0, as large as
    /// what 40 steps learn (4–6/15 over five seeds); from zeros the preset reaches 11–14/15 over the same seeds.
    /// The reference's own (SqueezeNet) features are larger, which is why Kaiming did not hurt it there.
    /// </remarks>
    public static PrepareOptions Reference => new()
    {
        NormalizeFeatures = false,
        Init = WeightInit.Zeros,
        UpdatableLayers = [ModelBuilder.ClassifierNode],
        Optimizer = OptimizerKind.Sgd,
        Hyperparameters = DefaultHyperparameters.Reference(),
        Augmentation = AugmentationOptions.None,
        LearningRateSchedule = DefaultHyperparameters.ReferenceLearningRateSchedule,
    };
}
