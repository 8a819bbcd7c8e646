using Tailor.Engine;
using Tailor.Features;

namespace Tailor.Training;

/// <summary>
/// Cached features of a set of labelled examples (every readable example × augmented variant, each with its label
/// slot), read in mini-batches by <see cref="Batches(int, int)"/>. Made by <see cref="TrainingPlan.ComputeFeatures"/>.
/// </summary>
/// <remarks>Not thread-safe: one loop reads a set at a time (its batches reuse one <see cref="FeatureBatch"/>).</remarks>
public sealed class FeatureSet : IDisposable
{
    private readonly FeatureCache _cache;
    private readonly int[] _slots;   // per example; −1: unreadable
    private readonly int[] _rows;    // the readable rows (examples × variants)
    private readonly int[] _order;
    private readonly int _seed;
    private readonly bool _shuffle;
    private FeatureBatch? _batch;

    internal FeatureSet(FeatureCache cache, int[] slots, int seed, bool shuffle)
    {
        _cache = cache;
        _slots = slots;
        _seed = seed;
        _shuffle = shuffle;
        int variants = cache.Variants;
        _rows = Enumerable.Range(0, cache.Rows).Where(r => slots[r / variants] >= 0).ToArray();
        _order = new int[_rows.Length];
    }

    /// <summary>Rows: readable examples × <see cref="Variants"/>.</summary>
    public int Count => _rows.Length;

    /// <summary>Variants per example (1 without augmentation; variant 0 is the image as it is).</summary>
    public int Variants => _cache.Variants;

    internal FeatureCache Cache => _cache;

    /// <summary>Every row in order as one row-major matrix [<see cref="Count"/>, row length] (the k-NN and
    /// logistic-regression heads fit on the whole set at once), with each row's example index and label slot.</summary>
    internal (float[] Matrix, int RowLength, int[] Examples, int[] Slots) ToMatrix()
    {
        int length = _cache.RowLength, variants = _cache.Variants;
        var matrix = new float[_rows.Length * length];
        var examples = new int[_rows.Length];
        var slots = new int[_rows.Length];
        for (int i = 0; i < _rows.Length; i++)
        {
            _cache.Read(_rows[i], matrix.AsSpan(i * length, length));
            examples[i] = _rows[i] / variants;
            slots[i] = _slots[examples[i]];
        }
        return (matrix, length, examples, slots);
    }

    /// <summary>The rows of epoch <paramref name="epoch"/> (0-based) in mini-batches of <paramref name="batchSize"/>
    /// (the last one holds the remainder): shuffled by (seed, epoch) when the settings shuffle, else in order.
    /// Each batch is the same object, refilled: use it before asking for the next.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1, or <paramref name="epoch"/> is negative.</exception>
    public IEnumerable<FeatureBatch> Batches(int batchSize, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return Ordered(batchSize, _shuffle ? epoch : -1);
    }

    /// <summary>The rows in order, in mini-batches of <paramref name="batchSize"/> (evaluation).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    public IEnumerable<FeatureBatch> Batches(int batchSize) => Ordered(batchSize, shuffleEpoch: -1);

    private IEnumerable<FeatureBatch> Ordered(int batchSize, int shuffleEpoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (shuffleEpoch >= 0) EpochShuffle.Permutation(_seed, shuffleEpoch, _order);
        else for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (_batch is null || _batch.Capacity < batchSize) _batch = new FeatureBatch(this, batchSize);
        return Iterate(_batch, batchSize);
    }

    /// <summary>The batch of rows <paramref name="start"/>…+<paramref name="count"/> in order (a set refilled batch by
    /// batch, as a benchmark that recomputes the prefix does).</summary>
    internal FeatureBatch Take(int start, int count)
    {
        if (_batch is null || _batch.Capacity < count) _batch = new FeatureBatch(this, count);
        for (int i = 0; i < count; i++)
        {
            _batch.RowBuffer[i] = _rows[start + i];
            _batch.LabelBuffer[i] = _slots[_rows[start + i] / _cache.Variants];
        }
        _batch.Count = count;
        return _batch;
    }

    private IEnumerable<FeatureBatch> Iterate(FeatureBatch batch, int batchSize)
    {
        for (int start = 0; start < _rows.Length; start += batchSize)
        {
            int count = Math.Min(batchSize, _rows.Length - start);
            var rows = batch.RowBuffer;
            var labels = batch.LabelBuffer;
            for (int i = 0; i < count; i++)
            {
                int row = _rows[_order[start + i]];
                rows[i] = row;
                labels[i] = _slots[row / _cache.Variants];
            }
            batch.Count = count;
            yield return batch;
        }
    }

    /// <summary>Deletes the cached features (and their temporary file, if they spilled to disk).</summary>
    public void Dispose() => _cache.Dispose();
}

/// <summary>
/// A mini-batch of cached examples: which rows of a <see cref="FeatureSet"/>, and their label slots.
/// <see cref="TrainingSession.TrainStep"/> reads each cut tensor of each row straight from the cache into the
/// training graph's input.
/// </summary>
public sealed class FeatureBatch
{
    internal FeatureBatch(FeatureSet source, int capacity)
    {
        Source = source;
        RowBuffer = new int[capacity];
        LabelBuffer = new int[capacity];
    }

    /// <summary>The set the rows belong to.</summary>
    public FeatureSet Source { get; }

    /// <summary>Examples in the batch.</summary>
    public int Count { get; internal set; }

    internal int Capacity => RowBuffer.Length;

    internal int[] RowBuffer { get; }

    internal int[] LabelBuffer { get; }

    /// <summary>The label slot of each example.</summary>
    internal ReadOnlyMemory<int> Labels => LabelBuffer.AsMemory(0, Count);

    /// <summary>Reads every cut tensor of every row into the graph's inputs, in place.</summary>
    internal void WriteInputs(SuffixGraph graph)
    {
        var cache = Source.Cache;
        var lengths = cache.SegmentLengths;
        for (int t = 0; t < lengths.Count; t++)
        {
            int length = lengths[t];
            var input = graph.InputBuffer(t, Count);
            for (int i = 0; i < Count; i++)
                cache.Read(RowBuffer[i], t, input.Slice(i * length, length));
        }
    }
}
