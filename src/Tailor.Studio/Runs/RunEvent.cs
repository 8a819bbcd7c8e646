using Tailor.Training;

namespace Tailor.Studio.Runs;

/// <summary>
/// One thing that happened in a run, as <see cref="RunManager.Subscribe"/> streams it. <see cref="Kind"/> says which
/// members are set (the others are null): <c>state</c> (<see cref="Status"/>: the whole state so far, sent first),
/// <c>began</c> (<see cref="Epochs"/>, <see cref="Batches"/>, <see cref="LearningRate"/>), <c>features</c>
/// (<see cref="Done"/> of <see cref="Total"/> images), <c>batch</c> (<see cref="Epoch"/>, <see cref="Batch"/> of
/// <see cref="Batches"/>, <see cref="Loss"/>), <c>epoch</c> (<see cref="Record"/>, numbered in the accumulated history),
/// <c>learningRate</c> (<see cref="LearningRate"/> from <see cref="Epoch"/> on) and <c>finished</c> (<see cref="State"/>,
/// <see cref="Reason"/>, <see cref="ModelVersionId"/>, <see cref="Accuracy"/> on the test set).
/// </summary>
/// <remarks>Serializes with System.Text.Json (camelCase with <c>JsonSerializerDefaults.Web</c>); null members can be
/// left out (<c>JsonIgnoreCondition.WhenWritingNull</c>).</remarks>
public sealed record RunEvent
{
    /// <summary>The kinds of events.</summary>
    public const string StateKind = "state", BeganKind = "began", FeaturesKind = "features", BatchKind = "batch", EpochKind = "epoch",
        LearningRateKind = "learningRate", FinishedKind = "finished";

    /// <summary>One of <see cref="StateKind"/>, <see cref="BeganKind"/>, <see cref="FeaturesKind"/>, <see cref="BatchKind"/>,
    /// <see cref="EpochKind"/>, <see cref="LearningRateKind"/>, <see cref="FinishedKind"/>.</summary>
    public required string Kind { get; init; }

    /// <summary>The run.</summary>
    public long RunId { get; init; }

    /// <summary><c>state</c>: the run's state with its history so far.</summary>
    public RunStatus? Status { get; init; }

    /// <summary><c>features</c>: images (augmented variants included) whose features are computed.</summary>
    public int? Done { get; init; }

    /// <summary><c>features</c>: images to compute.</summary>
    public int? Total { get; init; }

    /// <summary><c>batch</c>: the epoch, numbered in the accumulated history; <c>learningRate</c>: the first epoch (in
    /// the history) that trains at the new rate.</summary>
    public int? Epoch { get; init; }

    /// <summary><c>began</c>: the epochs this run trains.</summary>
    public int? Epochs { get; init; }

    /// <summary><c>batch</c>: the mini-batch, 1 for the first of its epoch.</summary>
    public int? Batch { get; init; }

    /// <summary><c>began</c>, <c>batch</c>: mini-batches per epoch.</summary>
    public int? Batches { get; init; }

    /// <summary><c>batch</c>: the mini-batch's mean loss.</summary>
    public double? Loss { get; init; }

    /// <summary><c>epoch</c>: what the epoch measured.</summary>
    public EpochRecord? Record { get; init; }

    /// <summary><c>began</c>, <c>learningRate</c>: the learning rate.</summary>
    public double? LearningRate { get; init; }

    /// <summary><c>finished</c>: how the run ended.</summary>
    public RunState? State { get; init; }

    /// <summary><c>finished</c>: why it stopped or failed, and what was skipped; null when there is nothing to say.</summary>
    public string? Reason { get; init; }

    /// <summary><c>finished</c>: the model version committed, or null when none was (no epoch finished, or it failed
    /// before).</summary>
    public long? ModelVersionId { get; init; }

    /// <summary><c>finished</c>: the committed model's accuracy on the test set (0..1), or null without a test set.</summary>
    public double? Accuracy { get; init; }
}
