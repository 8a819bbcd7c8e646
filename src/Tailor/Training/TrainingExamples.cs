using Tailor.Data;
using Tailor.Features;
using Tailor.Spec;

namespace Tailor.Training;

/// <summary>
/// The examples one training reads — the data's photos, then the kept examples it replays — and the label
/// contract on the data side (DESIGN decision 8), shared by every head: data that lacks a label the model was
/// trained on is refused before any work unless it is replayed or forgotten knowingly; a label with no readable
/// photo takes no slot; the model records what it was trained on; the examples can be kept for the next training.
/// </summary>
internal sealed class TrainingExamples
{
    private readonly LabeledFolder _data;
    private readonly IReadOnlyList<LabeledExample> _list;   // the data's examples this training reads (a validation split holds some out)
    private readonly KeptExamples? _kept;
    private readonly bool _needHashes;
    private string?[] _hashes = [];
    private List<int> _replayed = [];
    private string? _fingerprint, _cut;
    private readonly IReadOnlyDictionary<string, int>? _trained;

    private readonly bool _forget;

    private TrainingExamples(LabeledFolder data, IReadOnlyList<LabeledExample> list, KeptExamples? kept, IReadOnlyList<string> forgotten, bool needHashes,
        IReadOnlyDictionary<string, int>? trained, bool forget)
    {
        _forget = forget;
        _list = list;
        _trained = trained;
        _data = data;
        _kept = kept;
        Forgotten = forgotten;
        _needHashes = needHashes;
    }

    /// <summary>Labels the model was trained on that this training leaves out (only with Forget).</summary>
    public IReadOnlyList<string> Forgotten { get; private set; }

    /// <summary>True when kept examples are to be replayed: with the data they hold everything the model was last trained on.</summary>
    public bool Replays => _kept is not null && _kept.Entries.Count > 0;

    /// <summary>Kept examples replayed (photos given again in the data are not replayed).</summary>
    public int Replayed => _replayed.Count;

    /// <summary>The kept examples' labels and the data's, each once, the data's first.</summary>
    public IReadOnlyList<string> Labels =>
        _data.Labels.Concat(_kept?.Entries.Select(e => e.Label) ?? []).Distinct(LabelComparer.Instance).ToList();

    /// <summary>Reads the kept examples' header and checks that no trained label is left out: before any work.</summary>
    /// <exception cref="TailorException">The data and the replayed examples lack trained labels and
    /// <paramref name="forget"/> is false (the labels and the ways forward are named); a bad kept-examples file.</exception>
    /// <remarks><paramref name="trained"/>: the data's examples this training reads (default: all of them; a validation
    /// split holds some out).</remarks>
    public static TrainingExamples Plan(UpdateSpec spec, LabeledFolder data, string? replayPath, bool forget, bool keep,
        IReadOnlyList<LabeledExample>? trained = null)
    {
        var kept = replayPath is null ? null : KeptExamples.Open(replayPath);
        var present = data.Labels.Concat(kept?.Entries.Select(e => e.Label) ?? []).ToHashSet(LabelComparer.Instance);
        var missing = (spec.TrainedExamples ?? new Dictionary<string, int>()).Where(p => !present.Contains(p.Key)).ToList();
        if (missing.Count > 0 && !forget)
            throw new TailorException(ForgettingMessage(missing, data.Root, kept is not null));
        return new TrainingExamples(data, trained ?? data.Examples, kept, missing.Select(p => p.Key).ToList(), kept is not null || keep, spec.TrainedExamples, forget);
    }

    internal static string ForgettingMessage(IReadOnlyList<KeyValuePair<string, int>> missing, string data, bool replayed)
    {
        string list = List(missing.Select(p => $"'{Shown.Label(p.Key)}' ({p.Value} photo{(p.Value == 1 ? "" : "s")})").ToList());
        bool one = missing.Count == 1;
        return $"The training data '{Shown.Path(data)}'{(replayed ? " and the replayed kept examples" : "")} lack{(replayed ? "" : "s")} {(one ? "the label" : "labels")} {list} " +
            $"that the model was trained on: training without {(one ? "it" : "them")} would make the model forget {(one ? "it" : "them")} " +
            "(it would answer only the labels it is trained on now). Ways forward: include the old photos in the training data; " +
            "replay the examples kept with the model (set ReplayExamplesPath to the file a training with KeepExamplesPath wrote); " +
            "or set Forget to train without " +
            $"{(one ? "it" : "them")} knowingly: {(one ? "it keeps its slot" : "they keep their slots")} but {(one ? "is" : "are")} no longer learned.";
    }

    private static string List(IReadOnlyList<string> items) =>
        items.Count <= 1 ? string.Join("", items) : string.Join(", ", items.Take(items.Count - 1)) + " and " + items[^1];

    /// <summary>Once the cut is known: checks that the kept examples were cut the same way from the same model,
    /// and hashes the data's files (to keep them, and not to replay a photo given again).</summary>
    /// <exception cref="TailorException">Kept examples from another cut or backbone, or stale.</exception>
    public void Bind(FeatureExtractor extractor)
    {
        _kept?.CheckMatches(extractor, _trained);
        _fingerprint = extractor.Fingerprint;
        _cut = extractor.Description;
        if (_needHashes) _hashes = _list.Select(e => KeptExamples.HashFile(e.Path)).ToArray();
        if (_kept is null || _trained is null) return;
        // A photo given again replaces its kept example, under the data's label: moving a label's photos to another
        // label must not make the model forget the first one silently (Plan could not see it before the hashes).
        var given = _hashes.Where(h => h is not null).ToHashSet();
        var present = _data.Labels.Concat(_kept.Entries.Where(e => !given.Contains(e.Hash)).Select(e => e.Label)).ToHashSet(LabelComparer.Instance);
        var missing = _trained.Where(p => !present.Contains(p.Key) && !Forgotten.Contains(p.Key, LabelComparer.Instance)).ToList();
        if (missing.Count == 0) return;
        if (!_forget)
            throw new TailorException(ForgettingMessage(missing, _data.Root, replayed: true) +
                " (Photos given again in the training data replace their kept examples, under the label they have in the data.)");
        Forgotten = [.. Forgotten, .. missing.Select(p => p.Key)];
    }

    /// <summary>The data's labels none of whose photos could be read and that no replayed example holds: they
    /// take no slot (and are reported).</summary>
    public IReadOnlyList<string> LabelsWithoutExamples(IReadOnlySet<int> unreadable)
    {
        var kept = _kept?.Entries.Select(e => e.Label).ToHashSet(LabelComparer.Instance) ?? [];
        return _data.Labels.Where(l => !kept.Contains(l) &&
            _list.Select((e, i) => (e, i)).All(p => unreadable.Contains(p.i) || !LabelComparer.Instance.Equals(p.e.Label, l))).ToList();
    }

    /// <summary>Appends the kept examples to the data's features (each with the cache's number of variants),
    /// except those whose photo the data holds again.</summary>
    public FeatureCache Replay(FeatureCache cache, FeatureCacheOptions options)
    {
        if (_kept is null) return cache;
        var given = _hashes.Where(h => h is not null).ToHashSet();
        _replayed = Enumerable.Range(0, _kept.Entries.Count).Where(i => !given.Contains(_kept.Entries[i].Hash)).ToList();
        if (_replayed.Count == 0) return cache;
        using var file = new FileStream(_kept.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        return cache.Append(_replayed.Count, (e, destination) => _kept.ReadExample(file, _replayed[e], cache.Variants, destination), options);
    }

    /// <summary>Label of example <paramref name="example"/> of the cache <see cref="Replay"/> returned.</summary>
    public string LabelOf(int example) => example < _list.Count ? _list[example].Label : _kept!.Entries[_replayed[example - _list.Count]].Label;

    /// <summary>Examples in the cache <see cref="Replay"/> returned.</summary>
    public int Count => _list.Count + _replayed.Count;

    /// <summary>What the model is now trained on: readable examples per label, in slot order.</summary>
    public IReadOnlyDictionary<string, int> Record(ClassLabels labels, IReadOnlySet<int> unreadable)
    {
        var counts = new Dictionary<string, int>(LabelComparer.Instance);
        for (int i = 0; i < Count; i++)
            if (!unreadable.Contains(i)) counts[LabelOf(i)] = counts.GetValueOrDefault(LabelOf(i)) + 1;
        return counts.OrderBy(p => labels.IndexOf(p.Key) is int s && s >= 0 ? s : int.MaxValue).ToDictionary(p => ClassLabels.Normalize(p.Key), p => p.Value);
    }

    /// <summary>Writes every readable example's rows (all variants) to <paramref name="path"/>; returns how many.</summary>
    public int Keep(string path, FeatureCache cache, IReadOnlySet<int> unreadable)
    {
        var examples = Enumerable.Range(0, Count).Where(i => !unreadable.Contains(i)).ToList();
        var entries = examples.Select(i => i < _list.Count
            ? new KeptExamples.Entry(ClassLabels.Normalize(_list[i].Label), _hashes[i] ?? "", _list[i].Path)
            : _kept!.Entries[_replayed[i - _list.Count]]).ToList();
        KeptExamples.Write(path, _fingerprint!, _cut!, cache.RowLength, cache.Variants, entries,
            (e, v, row) => cache.Read(examples[e] * cache.Variants + v, row));
        return entries.Count;
    }

    /// <summary>The error for unreadable examples without SkipBadExamples, the same for every head.</summary>
    internal static string UnreadableMessage(IReadOnlyList<FeatureCache.Failure> failures)
    {
        var (path, reason) = (failures[0].Path, failures[0].Reason);
        // The image loader's reasons already name the file; say it once.
        string first = reason.Contains(Shown.Path(path), StringComparison.Ordinal) ? reason.TrimEnd('.') : $"The training example '{Shown.Path(path)}' could not be read: {reason.TrimEnd('.')}";
        return $"{first} ({failures.Count} unreadable in all; set SkipBadExamples to train without them; they are then listed).";
    }
}
