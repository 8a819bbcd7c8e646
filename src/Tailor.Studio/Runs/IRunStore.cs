using Tailor.Data;
using Tailor.Training;

namespace Tailor.Studio.Runs;

/// <summary>What a studio run needs from the workspace: the project's current model and data, and a place to record
/// the run and commit its model. The workspace implements it; run tests use an in-memory store.</summary>
/// <remarks>Every call may come from the run's background thread; implementations are thread-safe.</remarks>
public interface IRunStore
{
    /// <summary>A fresh copy of the project's current model (the run trains the copy; nothing is written until
    /// <see cref="CommitModel"/>).</summary>
    UpdatableModel LoadCurrentModel(long projectId);

    /// <summary>A fresh copy of the project's base model (the version made when the project was created, or the one it was
    /// last reset to), which a run starts from when continuing the current model would be wrong: a k-NN run (it stores the
    /// project's examples once, not again beside those the current k-NN holds) and a network or logistic-regression run
    /// when the current model is a k-NN (no classifier layer is left to train). Null when the store keeps none: runs then
    /// start from the current model.</summary>
    UpdatableModel? LoadBaseModel(long projectId) => null;

    /// <summary>The project's training examples and its test examples (null when the test set is empty), with the
    /// images marked corrupt left out.</summary>
    (LabeledFolder Train, LabeledFolder? Test) LoadData(long projectId);

    /// <summary>The epochs trained on the current model since it was last reset or made current, oldest first:
    /// Start again continues from the current model, and the history accumulates as in the reference app.</summary>
    IReadOnlyList<EpochRecord> PriorEpochs(long projectId);

    /// <summary>Records a new run (its request as given) and returns its id.</summary>
    long BeginRun(long projectId, RunRequest request);

    /// <summary>Records one finished epoch of a run, numbered in the accumulated history.</summary>
    void RecordEpoch(long runId, EpochRecord record);

    /// <summary>Writes <paramref name="model"/> as a new model version made by the run, marks it current, and returns
    /// the version's id. Atomic: the previous current version stays current if this fails.</summary>
    long CommitModel(long projectId, long runId, UpdatableModel model);

    /// <summary>Where the run's feature rows are kept across runs (<see cref="Tailor.Features.FeatureCacheOptions.Store"/>),
    /// so that a run after adding 10 photos computes 10 rows; null: none.</summary>
    Tailor.Features.IFeatureStore? FeatureStore(long projectId) => null;

    /// <summary>Evaluates a committed model version on the project's test set and keeps the evaluation with the version (the
    /// Models screen and the run history show it); returns its accuracy, or null when the store keeps no evaluations (the
    /// default: the run evaluates the model itself and reports the accuracy in its end event only).</summary>
    double? EvaluateVersion(long projectId, long versionId) => null;

    /// <summary>Records how a run ended.</summary>
    void EndRun(long runId, TrainingState state, string? reason, long? modelVersionId);

    /// <summary>Where a network run's checkpoint is written after each epoch is recorded (one file, replaced atomically), so
    /// that a run the process is killed during can resume (<see cref="InterruptedRun"/>); null: no checkpoints (the default).</summary>
    string? CheckpointPath(long runId) => null;

    /// <summary>The project's latest run when the process was stopped during it; null when there is none (the default).</summary>
    InterruptedRun? InterruptedRun(long projectId) => null;

    /// <summary>Marks an interrupted run as running again for Resume, keeping its first <paramref name="keepEpochs"/> recorded
    /// epochs (those its checkpoint holds) and forgetting any later one (trained again, the same, from the checkpoint).</summary>
    void ReopenRun(long runId, int keepEpochs) => throw new NotSupportedException("This store keeps no interrupted runs.");
}
