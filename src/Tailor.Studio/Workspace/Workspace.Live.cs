using System.Diagnostics;
using Tailor.Prediction;

namespace Tailor.Studio;

/// <summary>A label and the probability the model gives it.</summary>
public sealed record LabelProbability(string Label, double Probability);

/// <summary>The current model's answer for one image (<see cref="Workspace.Predict"/>).</summary>
/// <param name="VersionId">The model version that answered (the project's current one when it was asked).</param>
/// <param name="Top">Every label of the model (free slots left out), most probable first.</param>
/// <param name="Ms">Milliseconds the studio spent decoding and predicting the image.</param>
public sealed record LivePrediction(long VersionId, IReadOnlyList<LabelProbability> Top, double Ms);

/// <summary>Whether <see cref="Workspace.Predict"/> can answer for a project now (<see cref="Workspace.PredictReadiness"/>).</summary>
/// <param name="VersionId">The project's current model version.</param>
/// <param name="TrainedLabels">The project's labels that version was trained on.</param>
/// <param name="Message">Null when it can predict; otherwise why not and what to do.</param>
public sealed record LiveReadiness(long VersionId, IReadOnlyList<string> TrainedLabels, string? Message)
{
    /// <summary>True when the current model was trained on at least one of the project's labels.</summary>
    public bool Ready => Message is null;
}

public sealed partial class Workspace
{
    /// <summary>At most this many projects keep a loaded model for <see cref="Predict"/> (the least recently used one is
    /// let go first): a ResNet18 predictor holds about 100 MB of native memory.</summary>
    public const int MaxLivePredictors = 2;

    private const string UnnamedImage = "the image";

    private readonly object _liveGate = new();
    private readonly object _liveBuild = new();
    private readonly Dictionary<long, LiveModel> _live = [];
    private readonly SemaphoreSlim _livePredicting = new(Math.Max(2, Environment.ProcessorCount));
    private long _liveClock;
    private int _liveOpen;

    /// <summary>
    /// Predicts one image (the whole file's bytes) with the project's <b>current</b> model version. The project keeps one
    /// loaded <see cref="Predictor"/> for its current version: the first call loads it, later calls reuse it, and a call
    /// after the current version changed (a run committed a model, a reset, an earlier version made current) or the
    /// labels changed loads the new one and lets the old one go once the calls using it are done. At most
    /// <see cref="MaxLivePredictors"/> projects keep one; at most as many images as there are cores are decoded and
    /// predicted at once (the others wait). The image is checked as <see cref="AddExample"/> checks an upload (by its
    /// content, its header's size before decoding) and never written to disk.
    /// </summary>
    /// <param name="image">The encoded image, at most <see cref="MaxUploadBytes"/> bytes.</param>
    /// <param name="name">How messages name the image (a file name), or null for "The image".</param>
    /// <exception cref="TailorException">No such project; the image is too large, not an image Tailor reads, declares too
    /// many pixels or does not decode (the message says which); or the current model was trained on none of the
    /// project's labels — there is nothing it can tell apart yet (the message says so and what to do).</exception>
    public LivePrediction Predict(long projectId, ReadOnlySpan<byte> image, string? name, CancellationToken cancellationToken = default)
    {
        string shown = name is { Length: > 0 } ? $"'{Shown.Label(name)}'" : "The image";
        if (image.Length > MaxUploadBytes)
            throw new TailorException($"{shown} is larger than {MaxUploadBytes / (1 << 20)} MiB, the most one image may be (Workspace.MaxUploadBytes).");
        if (image.IsEmpty) throw new TailorException($"{shown} is empty (0 bytes), not an image.");
        var header = ImageStore.ReadHeader(image, shown);
        if (header.Width == 0 || header.Height == 0)
            throw new TailorException($"{shown} is not an image Tailor can read: its header cannot be read (the file looks damaged or truncated).");

        var model = LiveModelFor(projectId);
        try
        {
            if (Untrained(model) is { } untrained) throw new ProjectStateException(untrained);
            _livePredicting.Wait(cancellationToken);
            try
            {
                long started = Stopwatch.GetTimestamp();
                Classification classification;
                try
                {
                    classification = model.Predictor.Predict(image, name is { Length: > 0 } ? name : UnnamedImage);
                }
                catch (TailorException e) when (e.Message.StartsWith($"'{UnnamedImage}'", StringComparison.Ordinal))
                {
                    // The library quotes the name it was given, as a file name: an image without one is "The image".
                    throw new TailorException("The image" + e.Message[(UnnamedImage.Length + 2)..], e);
                }
                double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                var labels = model.Predictor.Model.Spec.Labels;
                var top = classification.Top(labels.Capacity, labels).Select(t => new LabelProbability(t.Label, t.Probability)).ToList();
                return new LivePrediction(model.VersionId, top, Math.Round(ms, 1));
            }
            finally
            {
                _livePredicting.Release();
            }
        }
        finally
        {
            model.Release();
        }
    }

    /// <summary>Whether <see cref="Predict"/> can answer for the project now: its current version, the labels that version
    /// was trained on, and — when none — why it cannot and what to do. Loads the version's predictor when it is not
    /// loaded yet, so the first prediction that follows is quick.</summary>
    /// <exception cref="TailorException">No such project.</exception>
    public LiveReadiness PredictReadiness(long projectId)
    {
        var model = LiveModelFor(projectId);
        try
        {
            return new LiveReadiness(model.VersionId, model.Trained, Untrained(model));
        }
        finally
        {
            model.Release();
        }
    }

    private static string? Untrained(LiveModel model) => model.Trained.Count > 0 ? null :
        $"Project '{Shown.Label(model.ProjectName)}' has no trained label yet: its current model (version {model.VersionId}) was trained on none of its labels, " +
        "so it has nothing to tell apart. Add photos to the labels and train it (Train screen) first.";

    /// <summary>The loaded model of the project's current version and labels, acquired (the caller releases it).</summary>
    private LiveModel LiveModelFor(long projectId)
    {
        var key = Read(() =>
        {
            string project = ProjectName(projectId, null);
            var row = Query("SELECT current_version, labels_version FROM projects WHERE id = $p;",
                r => (Version: NullableLong(r, 0), Labels: r.GetInt64(1)), null, ("$p", projectId))[0];
            long version = row.Version ?? throw new TailorException($"Project '{Shown.Label(project)}' has no current model version.");
            return (Version: version, row.Labels, Project: project);
        });
        if (TryAcquireLive(projectId, key.Version, key.Labels) is { } cached) return cached;
        lock (_liveBuild)
        {
            // Another call may have loaded it while this one waited.
            if (TryAcquireLive(projectId, key.Version, key.Labels) is { } loaded) return loaded;
            var model = LoadModel(projectId, key.Version);
            var labels = model.Spec.Labels;
            var trained = Enumerable.Range(0, labels.Capacity)
                .Where(i => !labels.IsPlaceholder(i) && model.Spec.TrainedExamples?.GetValueOrDefault(labels.Names[i]) > 0)
                .Select(i => labels.Names[i]).ToList();
            var fresh = new LiveModel(this, key.Version, key.Labels, key.Project, new Predictor(model), trained);
            Interlocked.Increment(ref _liveOpen);
            fresh.TryAcquire();
            var dropped = new List<LiveModel>();
            lock (_liveGate)
            {
                if (_disposed)
                {
                    fresh.Release();
                    fresh.Release();
                    ObjectDisposedException.ThrowIf(true, this);
                }
                if (_live.Remove(projectId, out var old)) dropped.Add(old);
                fresh.LastUsed = ++_liveClock;
                _live[projectId] = fresh;
                while (_live.Count > MaxLivePredictors)
                {
                    var oldest = _live.MinBy(p => p.Value.LastUsed);
                    _live.Remove(oldest.Key);
                    dropped.Add(oldest.Value);
                }
            }
            foreach (var m in dropped) m.Release();   // disposed now, or when the last call using it is done
            return fresh;
        }
    }

    private LiveModel? TryAcquireLive(long projectId, long version, long labels)
    {
        lock (_liveGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_live.TryGetValue(projectId, out var model) || model.VersionId != version || model.LabelsVersion != labels || !model.TryAcquire())
                return null;
            model.LastUsed = ++_liveClock;
            return model;
        }
    }

    /// <summary>How many projects hold a loaded model for <see cref="Predict"/> now (tests check the bound).</summary>
    internal int LivePredictorCount
    {
        get { lock (_liveGate) return _live.Count; }
    }

    /// <summary>How many loaded predictors are not disposed yet (those in the cache, and those let go but still in use).</summary>
    internal int LivePredictorsOpen => Volatile.Read(ref _liveOpen);

    /// <summary>Lets every loaded model go (each is disposed when the calls using it are done).</summary>
    private void DisposeLivePredictors()
    {
        List<LiveModel> models;
        lock (_liveGate)
        {
            models = [.. _live.Values];
            _live.Clear();
        }
        foreach (var m in models) m.Release();
    }

    /// <summary>A loaded model version, counted: the cache holds one reference, each call under way one more; the
    /// predictor is disposed when the count reaches zero.</summary>
    private sealed class LiveModel(Workspace owner, long versionId, long labelsVersion, string projectName, Predictor predictor, IReadOnlyList<string> trained)
    {
        private int _references = 1;

        public long VersionId { get; } = versionId;
        public long LabelsVersion { get; } = labelsVersion;
        public string ProjectName { get; } = projectName;
        public Predictor Predictor { get; } = predictor;
        public IReadOnlyList<string> Trained { get; } = trained;
        public long LastUsed { get; set; }

        public bool TryAcquire()
        {
            lock (this)
            {
                if (_references == 0) return false;
                _references++;
                return true;
            }
        }

        public void Release()
        {
            bool last;
            lock (this) last = --_references == 0;
            if (!last) return;
            Predictor.Dispose();
            Interlocked.Decrement(ref owner._liveOpen);
        }
    }
}
