using Tailor.Building;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Studio;

/// <summary>Which set an example belongs to: the training set or the test set (Evaluate and the runs' validation).</summary>
public enum ExampleSet { Train, Test }

/// <summary>A project: one model and its labels, examples, runs and model versions.</summary>
/// <param name="BaseDescription">What the model was prepared from ("ResNet18 (embedded)", or the uploaded file's name).</param>
/// <param name="Capacity">The model's output slots.</param>
/// <param name="FreeSlots">Slots no label holds.</param>
/// <param name="CurrentVersionId">The model version runs continue from and downloads give.</param>
/// <param name="Labels">The labels in slot order.</param>
public sealed record ProjectInfo(long Id, string Name, DateTimeOffset Created, string BaseDescription, int Capacity, int FreeSlots,
    long? CurrentVersionId, IReadOnlyList<LabelInfo> Labels);

/// <summary>A label of a project: its name (any Unicode text, NFC), the model slot it holds, and its example counts
/// (corrupt images included).</summary>
public sealed record LabelInfo(long Id, string Name, int Slot, int TrainCount, int TestCount);

/// <summary>One stored image of a project.</summary>
/// <param name="Sha256">The content hash (lower-case hex); the file is stored under it.</param>
/// <param name="Bytes">The file's size.</param>
/// <param name="Source">upload, camera, import or paste.</param>
/// <param name="OriginalName">The file name it came with, as text only (never used in a path); null for captures.</param>
/// <param name="Corrupt">The image could not be decoded: it is shown but never used by a run or an evaluation.</param>
public sealed record ExampleInfo(long Id, long LabelId, string Label, ExampleSet Set, string Sha256, int Width, int Height, long Bytes,
    string Source, string? OriginalName, bool Corrupt, string? CorruptReason, DateTimeOffset Added);

/// <summary>The result of <see cref="Workspace.AddExample"/>: the example stored, or — when the project already has these
/// exact bytes — the existing one with <see cref="Duplicate"/> set (nothing is added twice).</summary>
public sealed record AddResult(ExampleInfo Example, bool Duplicate);

/// <summary>A page of examples and how many match in all.</summary>
public sealed record ExamplePage(int Total, IReadOnlyList<ExampleInfo> Items);

/// <summary>A model version of a project.</summary>
/// <param name="Kind">base (made at creation), trained (a run committed it) or reset (ResetToEmpty).</param>
/// <param name="Accuracy">The accuracy of its last evaluation on the test set, if it was evaluated.</param>
public sealed record ModelVersionInfo(long Id, long ProjectId, long? RunId, string Kind, DateTimeOffset Created, bool IsCurrent, double? Accuracy);

/// <summary>A recorded run.</summary>
/// <param name="State">running, completed, cancelled, failed or interrupted (the studio stopped during the run: killed, or
/// the machine went down; <see cref="Workspace.InterruptedRun"/> says whether it can resume).</param>
public sealed record RunInfo(long Id, long ProjectId, RunRequest Request, string State, string? Reason, DateTimeOffset Started, DateTimeOffset? Ended,
    long? ModelVersionId, IReadOnlyList<EpochRecord> Epochs);

/// <summary>How <see cref="Workspace.ImportFolder"/> is getting on.</summary>
/// <param name="Done">Files handled so far, of <paramref name="Total"/>.</param>
/// <param name="LastRefusal">Why the last refused file was refused (its name and the reason), if any was.</param>
public sealed record ImportProgress(int Done, int Total, int Added, int Duplicates, int Refused, string? LastRefusal);

/// <summary>What a new project's model is prepared from.</summary>
public sealed record ProjectBase
{
    private ProjectBase(PrepareOptions options, string description)
    {
        Options = options;
        Description = description;
    }

    /// <summary>The options <see cref="ModelBuilder.Prepare"/> gets.</summary>
    public PrepareOptions Options { get; }

    /// <summary>What the project says it was made from.</summary>
    public string Description { get; }

    /// <summary>The embedded ResNet18 with a classifier of <paramref name="capacity"/> slots (0: the default,
    /// <see cref="TrainingDefaults.Capacity"/>), as <c>tailor prepare</c> makes it.</summary>
    public static ProjectBase EmbeddedResNet18(int capacity = default) =>
        new(new PrepareOptions { Capacity = capacity == default ? TrainingDefaults.Capacity : capacity }, "ResNet18 (embedded)");

    /// <summary>A feature extractor from an ONNX file, prepared with <paramref name="settings"/> as <c>tailor prepare --base</c>
    /// takes them (feature output, capacity, preprocessing, mean/std…); the file is copied into the workspace.</summary>
    /// <param name="path">The ONNX file.</param>
    /// <param name="settings">Prepare options; <see cref="PrepareOptions.BaseModelPath"/> is replaced by <paramref name="path"/>.</param>
    /// <param name="displayName">What the project shows as its base (e.g. the uploaded file's name); default the file name.</param>
    public static ProjectBase FromOnnx(string path, PrepareOptions? settings = null, string? displayName = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new((settings ?? new PrepareOptions()) with { BaseModelPath = path }, displayName ?? Path.GetFileName(path));
    }
}
