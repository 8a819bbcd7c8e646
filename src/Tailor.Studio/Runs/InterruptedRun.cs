using Tailor.Training;

namespace Tailor.Studio.Runs;

/// <summary>A run the studio was stopped during (killed, or the machine went down): the project's latest run, found
/// unfinished when the workspace was opened again.</summary>
/// <param name="RunId">The run.</param>
/// <param name="ProjectId">Its project.</param>
/// <param name="Request">What it was asked to do.</param>
/// <param name="Started">When it began.</param>
/// <param name="Interrupted">When the studio found it unfinished (the studio's start after the stop).</param>
/// <param name="EpochsDone">The epochs its checkpoint holds: Resume continues after them (0: from its beginning).</param>
/// <param name="Epochs">Those epochs' records, numbered in the model's accumulated history.</param>
/// <param name="CheckpointPath">The checkpoint Resume continues from; null when no epoch was checkpointed.</param>
/// <param name="Resumable">True when Resume can continue it: a network run whose model is still the project's current one.</param>
/// <param name="WhyNot">When not resumable, why and what to do (a k-NN or logistic-regression run is simply run again).</param>
/// <param name="TrainingSetChanged">True when the training photos or the labels' slots changed after the run began (a photo
/// added, deleted or moved, a label added or deleted; not a rename): Resume trains on them as they are now, so the result is not the
/// one the run would have reached uninterrupted.</param>
public sealed record InterruptedRun(
    long RunId,
    long ProjectId,
    RunRequest Request,
    DateTimeOffset Started,
    DateTimeOffset? Interrupted,
    int EpochsDone,
    IReadOnlyList<EpochRecord> Epochs,
    [property: System.Text.Json.Serialization.JsonIgnore] string? CheckpointPath,
    bool Resumable,
    string? WhyNot,
    bool TrainingSetChanged = false);
