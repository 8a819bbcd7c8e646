using System.Text.Json.Serialization;
using Tailor.Training;

namespace Tailor.Studio.Runs;

/// <summary>Where a studio run is.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunState>))]
public enum RunState
{
    /// <summary>Loading the model and computing the frozen part's features.</summary>
    Preparing,
    /// <summary>Training epochs (a network run) or fitting the head (k-NN, logistic regression).</summary>
    Training,
    /// <summary>Ran all its epochs; the model is committed.</summary>
    Finished,
    /// <summary>Stopped at the user's request; the model of the last finished epoch is committed, if one finished.</summary>
    Stopped,
    /// <summary>Ended by an error (<see cref="RunStatus.Message"/> says which); the weights of the last finished epoch are
    /// committed when one finished.</summary>
    Failed,
}

/// <summary>A snapshot of a project's run: immutable, safe to serialize (camelCase) and to keep.</summary>
/// <param name="RunId">The run's id in the store.</param>
/// <param name="ProjectId">The project it trains.</param>
/// <param name="Request">What was asked.</param>
/// <param name="State">Where it is.</param>
/// <param name="Epoch">The epoch being trained, numbered in this run (1 for its first); 0 before the first epoch began.
/// For a finished run: the epochs it completed.</param>
/// <param name="Epochs">The epochs this run trains (1 for k-NN and logistic regression).</param>
/// <param name="FirstEpoch">The number of this run's first epoch in the accumulated history (prior epochs + 1).</param>
/// <param name="LearningRate">The learning rate in force (a network run), or null.</param>
/// <param name="History">Every epoch of the current model's history, the earlier runs' first, then this run's so far.</param>
/// <param name="Message">The last message: why it failed or stopped, what was skipped; null when there is nothing to say.</param>
/// <param name="ModelVersionId">The model version the run committed, once it did.</param>
/// <param name="Accuracy">Test-set accuracy of the committed model (0..1), when there is a test set.</param>
public sealed record RunStatus(
    long RunId,
    long ProjectId,
    RunRequest Request,
    RunState State,
    int Epoch,
    int Epochs,
    int FirstEpoch,
    double? LearningRate,
    IReadOnlyList<EpochRecord> History,
    string? Message,
    long? ModelVersionId,
    double? Accuracy)
{
    /// <summary>True while the run has not ended.</summary>
    public bool IsActive => State is RunState.Preparing or RunState.Training;
}
