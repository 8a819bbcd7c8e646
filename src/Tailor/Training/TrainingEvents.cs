using Tailor.Training.Optimizers;

namespace Tailor.Training;

/// <summary>How a training task ended.</summary>
public enum TrainingState { Completed, Cancelled, Failed }

/// <summary>Raised once before the first epoch.</summary>
public sealed record TrainingBeganEventArgs(int Examples, int Variants, int Epochs, int BatchSize, int FirstEpoch, IReadOnlyList<string> Labels);

/// <summary>Raised after every mini-batch: the batch's mean loss and accuracy (before the update's effect).</summary>
public sealed record MiniBatchEndedEventArgs(int Epoch, int BatchIndex, int BatchCount, int BatchSize, double Loss, double Accuracy);

/// <summary>Raised once at the end, whatever the outcome (cancellation and failure included).
/// <see cref="KeptEpoch"/> is the epoch whose weights the model holds (see <see cref="TrainingResult.KeptEpoch"/>);
/// <see cref="StoppedEarly"/> is true when <see cref="TrainingOptions.Patience"/> ended the run.</summary>
public sealed record TrainingCompletedEventArgs(TrainingState State, string? Reason, int EpochsCompleted, int KeptEpoch, bool StoppedEarly);

/// <summary>
/// What an event handler can see and change while training runs: the live model (predicting with the
/// current weights), the trainable parameters (read them; do not write), and the optimizer, whose
/// learning rate and other hyperparameters may be changed between epochs (annealing).
/// </summary>
public sealed class TrainingContext
{
    private readonly UpdateTask _task;

    internal TrainingContext(UpdateTask task) => _task = task;

    /// <summary>The optimizer; set e.g. <c>LearningRate</c> from an <see cref="UpdateTask.EpochEnded"/> handler.</summary>
    public Optimizer Optimizer => _task.Optimizer;

    /// <summary>The trainable parameters, by ONNX initializer name.</summary>
    public IReadOnlyList<ITrainableParameter> Parameters => _task.Parameters;

    /// <summary>A copy of the model with the current weights, for predictions with ONNX Runtime.</summary>
    public UpdatableModel SnapshotModel() => _task.SnapshotModel();

    /// <summary>Loss and accuracy of the current weights on cached validation features (null without validation data).</summary>
    public (double Loss, double Accuracy)? Validate() => _task.Validate();

    /// <summary>Asks the task to stop after the current mini-batch, as cancellation does.</summary>
    public void Stop() => _task.RequestStop();
}

/// <summary>The outcome of an <see cref="UpdateTask"/>.</summary>
public sealed record TrainingResult
{
    public TrainingState State { get; init; }

    /// <summary>Why the task was cancelled, failed (with the epoch, batch or example involved) or stopped early;
    /// null when it ran all its epochs.</summary>
    public string? Reason { get; init; }

    /// <summary>Epochs trained (the last one completed).</summary>
    public int EpochsCompleted { get; init; }

    /// <summary>The epoch whose weights the model now holds: with <see cref="TrainingOptions.KeepBest"/> and validation
    /// data, the one with the lowest validation loss; otherwise the last completed one. 0 when no epoch completed
    /// (the weights are those the task started from).</summary>
    public int KeptEpoch { get; init; }

    /// <summary>True when <see cref="TrainingOptions.Patience"/> stopped the run before its epochs were done
    /// (<see cref="State"/> is then <see cref="TrainingState.Completed"/> and <see cref="Reason"/> says why).</summary>
    public bool StoppedEarly { get; init; }

    public TrainingHistory History { get; init; } = new();

    /// <summary>Examples skipped because they could not be read (with <see cref="TrainingOptions.SkipBadExamples"/>).</summary>
    public IReadOnlyList<(string Path, string Reason)> Skipped { get; init; } = [];

    /// <summary>Labels that took a free placeholder slot: label → slot.</summary>
    public IReadOnlyDictionary<string, int> NewLabels { get; init; } = new Dictionary<string, int>();

    /// <summary>Seconds spent computing the frozen prefix's features.</summary>
    public double FeatureSeconds { get; init; }

    /// <summary>Kept examples replayed from <see cref="TrainingOptions.ReplayExamplesPath"/> (those whose photo the
    /// data held again are not counted: the photo was used).</summary>
    public int Replayed { get; init; }

    /// <summary>True when the training started from the model's initial weights because it replayed kept examples
    /// (<see cref="TrainingOptions.StartOverWhenReplaying"/>).</summary>
    public bool StartedOver { get; init; }

    /// <summary>Examples written to <see cref="TrainingOptions.KeepExamplesPath"/> (0 when not kept).</summary>
    public int KeptExamples { get; init; }

    /// <summary>Labels the model was trained on that this training left out (with <see cref="TrainingOptions.Forget"/>):
    /// they keep their slots but are no longer learned.</summary>
    public IReadOnlyList<string> Forgotten { get; init; } = [];

    /// <summary>Labels of the data none of whose photos could be read (with <see cref="TrainingOptions.SkipBadExamples"/>):
    /// they took no slot.</summary>
    public IReadOnlyList<string> LabelsWithoutExamples { get; init; } = [];

    /// <summary>Where the loss stopped being a finite number, when that ended the task (<see cref="State"/> is then
    /// <see cref="TrainingState.Failed"/>); null otherwise.</summary>
    public TrainingDivergence? Diverged { get; init; }
}

/// <summary>Where training diverged: the first mini-batch whose loss was NaN or infinite. No update was applied for
/// it, and the weights of the last kept epoch were restored.</summary>
/// <param name="Epoch">The epoch in progress (1-based, counted as <see cref="EpochRecord.Epoch"/> is).</param>
/// <param name="Batch">The mini-batch (1-based) of <paramref name="BatchCount"/>.</param>
/// <param name="BatchCount">The mini-batches of that epoch.</param>
/// <param name="Loss">The loss that batch gave (NaN or ±∞).</param>
/// <param name="LearningRate">The optimizer's learning rate during that epoch.</param>
public sealed record TrainingDivergence(int Epoch, int Batch, int BatchCount, double Loss, double LearningRate);
