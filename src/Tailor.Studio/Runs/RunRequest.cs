namespace Tailor.Studio.Runs;

/// <summary>Which head a studio run trains.</summary>
public enum RunHead { NeuralNetwork, LogisticRegression, Knn }

/// <summary>Which layers a neural-network run trains.</summary>
public enum RunLayers
{
    /// <summary>The layers the model's update spec names (for the embedded ResNet18: the last BatchNormalization and
    /// the classifier, "the default fine-tuning").</summary>
    Default,
    /// <summary>Only the classifier (the last updatable layer).</summary>
    ClassifierOnly,
    /// <summary>The layers in <see cref="RunRequest.ChosenLayers"/>.</summary>
    Chosen,
}

/// <summary>What the user asked a run to do. Null settings take the model's defaults (its update spec), which is
/// also where the allowed ranges come from; the run refuses a value outside them with a message naming it.</summary>
public sealed record RunRequest
{
    public RunHead Head { get; init; } = RunHead.NeuralNetwork;
    public RunLayers Layers { get; init; } = RunLayers.Default;
    /// <summary>Layer names when <see cref="Layers"/> is <see cref="RunLayers.Chosen"/>.</summary>
    public IReadOnlyList<string>? ChosenLayers { get; init; }
    /// <summary>Epochs to train in this run (the 1 / 10 / 50 buttons or a custom count); ignored by k-NN.</summary>
    public int Epochs { get; init; } = 10;
    public double? LearningRate { get; init; }
    public int? BatchSize { get; init; }
    /// <summary>k for k-NN.</summary>
    public int? K { get; init; }
    /// <summary>L2 for logistic regression.</summary>
    public double? L2 { get; init; }
    public int? Seed { get; init; }
}
