using Tailor.Data;
using Tailor.Studio.Runs;
using Tailor.Training;

namespace Tailor.Tests.Studio.Runs;

/// <summary>An <see cref="IRunStore"/> in memory over a model and two folders, recording what runs do.</summary>
internal sealed class MemoryRunStore(UpdatableModel model, LabeledFolder train, LabeledFolder? test) : IRunStore
{
    private readonly Lock _gate = new();
    private readonly UpdatableModel _base = model.Clone();
    private UpdatableModel _current = model.Clone();
    private List<EpochRecord> _prior = [];
    private long _nextRun = 1, _nextVersion = 1;

    public Dictionary<long, List<EpochRecord>> Epochs { get; } = [];
    public List<(long RunId, long VersionId, UpdatableModel Model)> Commits { get; } = [];
    public Dictionary<long, (TrainingState State, string? Reason, long? VersionId)> Ends { get; } = [];

    /// <summary>Weak references to every model handed to a run (a finished run must let go of its copy).</summary>
    public List<WeakReference<UpdatableModel>> Handed { get; } = [];

    public UpdatableModel Current
    {
        get { lock (_gate) return _current; }
    }

    public UpdatableModel LoadCurrentModel(long projectId) => Hand(Current);

    public UpdatableModel? LoadBaseModel(long projectId) => Hand(_base);

    private UpdatableModel Hand(UpdatableModel m)
    {
        var copy = m.Clone();
        lock (_gate) Handed.Add(new WeakReference<UpdatableModel>(copy));
        return copy;
    }

    public (LabeledFolder Train, LabeledFolder? Test) LoadData(long projectId) => (train, test);

    public IReadOnlyList<EpochRecord> PriorEpochs(long projectId)
    {
        lock (_gate) return [.. _prior];
    }

    public long BeginRun(long projectId, RunRequest request)
    {
        lock (_gate)
        {
            Epochs[_nextRun] = [];
            return _nextRun++;
        }
    }

    public void RecordEpoch(long runId, EpochRecord record)
    {
        lock (_gate) Epochs[runId].Add(record);
    }

    public long CommitModel(long projectId, long runId, UpdatableModel model)
    {
        lock (_gate)
        {
            _current = model.Clone();
            _prior = model.Spec.Head == Tailor.Spec.HeadKind.NeuralNetwork ? [.. _prior, .. Epochs[runId]] : [];
            Commits.Add((runId, _nextVersion, _current));
            return _nextVersion++;
        }
    }

    /// <summary>What <see cref="EvaluateVersion"/> does (null: it keeps no evaluation, and the run evaluates itself).</summary>
    public Func<long, double?>? Evaluate { get; init; }

    public double? EvaluateVersion(long projectId, long versionId) => Evaluate?.Invoke(versionId);

    public void EndRun(long runId, TrainingState state, string? reason, long? modelVersionId)
    {
        lock (_gate) Ends[runId] = (state, reason, modelVersionId);
    }
}
