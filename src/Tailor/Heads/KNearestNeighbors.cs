using System.Text;
using System.Numerics.Tensors;

namespace Tailor.Heads;

/// <summary>How the k nearest neighbours' votes are weighted.</summary>
public enum KnnWeighting
{
    /// <summary>Every neighbour's vote counts 1.</summary>
    Uniform,

    /// <summary>A neighbour at distance d votes 1 / (d + <see cref="KNearestNeighbors.InverseDistanceEpsilon"/>).</summary>
    InverseDistance,
}

/// <summary>The distance between two feature vectors.</summary>
public enum KnnMetric
{
    /// <summary>‖x − e‖₂.</summary>
    Euclidean,

    /// <summary>1 − x·e / (‖x‖·‖e‖), in [0, 2]; a zero vector is at distance 1 from everything.</summary>
    Cosine,
}

/// <summary>One k-NN prediction.</summary>
/// <param name="Label">The label with the highest probability (ties: the label added first).</param>
/// <param name="LabelIndex">Index of <paramref name="Label"/> in <see cref="KNearestNeighbors.Labels"/>.</param>
/// <param name="Probabilities">One probability per label, in the order of <see cref="KNearestNeighbors.Labels"/>
/// at prediction time; they sum to 1.</param>
public sealed record KnnPrediction(string Label, int LabelIndex, float[] Probabilities);

/// <summary>
/// The k-nearest-neighbours head: it stores (feature, label) examples and classifies a query by the
/// weighted vote of the k stored examples nearest to it. Adding an example is instant (no retraining),
/// labels appear as they come, and there is no capacity limit.
/// </summary>
/// <remarks>
/// <para><b>Prediction.</b> For a query x the distance to every stored example is computed (brute force,
/// SIMD via <see cref="TensorPrimitives"/>), the k nearest are kept, each votes for its label with weight
/// 1 (<see cref="KnnWeighting.Uniform"/>) or 1 / (d + ε) (<see cref="KnnWeighting.InverseDistance"/>,
/// ε = <see cref="InverseDistanceEpsilon"/>, so an exact match gets a large but finite weight), and the
/// per-label sums are divided by their total: p(label) = Σ_{neighbours with label} w / Σ_{neighbours} w.</para>
/// <para><b>Fewer examples than k.</b> When fewer than <see cref="K"/> examples are stored, all of them vote;
/// <see cref="EffectiveK"/> = min(k, <see cref="Count"/>) says how many do.</para>
/// <para><b>Ties</b> are broken deterministically, the same way the exported ONNX graph (TopK, ArgMax) breaks
/// them: among equally distant examples the one added first is nearer; among labels with equal probability
/// the label added first wins.</para>
/// <para><b>Cost.</b> A query costs O(n·D) time for n stored examples of dimension D (one distance each),
/// plus O(n·k) worst case for the selection; memory is n·D floats. It grows linearly with the stored set.
/// Measured (Heads tests, <c>PredictionCost_GrowsLinearly</c>, Release, on a shared and busy 2-core AVX2
/// machine): D = 512, n = 1 000 → about 0.5 ms per query; n = 10 000 → 1.2–3.6 ms (20 MB of features read
/// per query: memory-bandwidth bound). Beyond ~10⁵ examples an index, or the logistic-regression head, fits better.</para>
/// <para>Labels are compared after Unicode NFC normalization (✌️ with or without a different composition is one label).
/// Not thread-safe for concurrent <see cref="Add"/>; concurrent predictions without adds are safe.</para>
/// </remarks>
public sealed class KNearestNeighbors
{
    /// <summary>Default number of neighbours: 5 (DESIGN.md: k = 5 Euclidean did best on the hands data).</summary>
    public const int DefaultK = 5;

    /// <summary>Smallest allowed k.</summary>
    public const int MinK = 1;

    /// <summary>Largest allowed k.</summary>
    public const int MaxK = 100;

    /// <summary>ε in the inverse-distance weight 1 / (d + ε): keeps an exact match (d = 0) finite.</summary>
    public const float InverseDistanceEpsilon = 1e-6f;

    // Cosine: ‖v‖ + tiny in the denominator keeps a zero vector at cosine 0 (distance 1) without a branch; the
    // exported graph uses the same expression.
    internal const float NormEpsilon = 1e-12f;

    private float[] _features = [];   // Count × Dimension, row-major
    private float[] _norms = [];      // ‖e‖ per example (used by cosine)
    private int[] _labelOf = [];      // label index per example
    private readonly List<string> _labels = [];
    private readonly Dictionary<string, int> _labelIndex = new(StringComparer.Ordinal);

    /// <summary>Creates an empty k-NN head.</summary>
    /// <param name="dimension">Feature length D of every example and query (≥ 1).</param>
    /// <param name="k">Number of neighbours, in [<see cref="MinK"/>, <see cref="MaxK"/>]; default <see cref="DefaultK"/>.</param>
    /// <param name="weighting">Vote weighting; default <see cref="KnnWeighting.Uniform"/>.</param>
    /// <param name="metric">Distance; default <see cref="KnnMetric.Euclidean"/>.</param>
    /// <exception cref="TailorException">k or dimension outside its allowed range, or an unknown enum value.</exception>
    public KNearestNeighbors(int dimension, int k = DefaultK, KnnWeighting weighting = KnnWeighting.Uniform,
        KnnMetric metric = KnnMetric.Euclidean)
    {
        if (dimension < 1)
            throw new TailorException($"The k-NN feature dimension {dimension} is not allowed; it must be at least 1.");
        if (!Enum.IsDefined(weighting))
            throw new TailorException($"The k-NN weighting {(int)weighting} is not allowed; use Uniform or InverseDistance.");
        if (!Enum.IsDefined(metric))
            throw new TailorException($"The k-NN metric {(int)metric} is not allowed; use Euclidean or Cosine.");
        Dimension = dimension;
        K = k;
        Weighting = weighting;
        Metric = metric;
    }

    /// <summary>Feature length D.</summary>
    public int Dimension { get; }

    /// <summary>Number of neighbours that vote, in [<see cref="MinK"/>, <see cref="MaxK"/>]; may be changed at any time.</summary>
    /// <exception cref="TailorException">Set outside [1, 100].</exception>
    public int K
    {
        get;
        set
        {
            if (value < MinK || value > MaxK)
                throw new TailorException($"k = {value} is not allowed for the k-NN; it must be between {MinK} and {MaxK}.");
            field = value;
        }
    }

    /// <summary>How the k nearest vote; may change at any time (it does not touch the stored examples).</summary>
    public KnnWeighting Weighting { get; set; }

    /// <summary>The distance used.</summary>
    public KnnMetric Metric { get; }

    /// <summary>Number of stored examples.</summary>
    public int Count { get; private set; }

    /// <summary>How many neighbours actually vote: min(<see cref="K"/>, <see cref="Count"/>).</summary>
    public int EffectiveK => Math.Min(K, Count);

    /// <summary>The labels seen so far, in the order they first appeared (NFC-normalized).</summary>
    public IReadOnlyList<string> Labels => _labels;

    /// <summary>The stored feature vector of example <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> GetFeatures(int index)
    {
        CheckIndex(index);
        return _features.AsSpan(index * Dimension, Dimension);
    }

    /// <summary>The label of stored example <paramref name="index"/>.</summary>
    public string GetLabel(int index)
    {
        CheckIndex(index);
        return _labels[_labelOf[index]];
    }

    /// <summary>Stores one example. A new label is appended to <see cref="Labels"/>.</summary>
    /// <exception cref="TailorException">Wrong feature length, a non-finite value, or an empty label.</exception>
    public void Add(ReadOnlySpan<float> features, string label)
    {
        CheckLength(features.Length);
        if (string.IsNullOrWhiteSpace(label))
            throw new TailorException("A k-NN example's label is empty; a label must contain at least one visible character.");
        for (int i = 0; i < features.Length; i++)
            if (!float.IsFinite(features[i]))
                throw new TailorException($"A k-NN example for label '{label}' has feature[{i}] = {features[i]}; features must be finite.");

        string key = label.Normalize(NormalizationForm.FormC);
        if (!_labelIndex.TryGetValue(key, out int labelIndex))
        {
            labelIndex = _labels.Count;
            _labels.Add(key);
            _labelIndex.Add(key, labelIndex);
        }

        if (Count == _labelOf.Length)
        {
            int capacity = Math.Max(16, Count * 2);
            Array.Resize(ref _features, capacity * Dimension);
            Array.Resize(ref _norms, capacity);
            Array.Resize(ref _labelOf, capacity);
        }
        features.CopyTo(_features.AsSpan(Count * Dimension, Dimension));
        _norms[Count] = TensorPrimitives.Norm(features);
        _labelOf[Count] = labelIndex;
        Count++;
    }

    /// <summary>Predicts the label of one query.</summary>
    /// <returns>The top label and one probability per label (see the class remarks for the formula).</returns>
    /// <exception cref="TailorException">No examples stored, or the query's length is not <see cref="Dimension"/>.</exception>
    public KnnPrediction Predict(ReadOnlySpan<float> feature)
    {
        CheckLength(feature.Length);
        CheckNotEmpty();
        int k = EffectiveK;
        Span<float> nearDistance = stackalloc float[k];
        Span<int> nearIndex = stackalloc int[k];
        float[] scores = new float[_labels.Count];
        PredictInto(feature, nearDistance, nearIndex, scores);
        return ToPrediction(scores);
    }

    /// <summary>Predicts a batch of queries stored row-major: <paramref name="features"/>.Length = N·<see cref="Dimension"/>.</summary>
    /// <exception cref="TailorException">No examples stored, or the length is not a multiple of <see cref="Dimension"/>.</exception>
    public KnnPrediction[] PredictBatch(ReadOnlySpan<float> features)
    {
        if (features.Length % Dimension != 0)
            throw new TailorException(
                $"A k-NN batch of {features.Length} floats is not a whole number of features of length {Dimension}.");
        CheckNotEmpty();
        int n = features.Length / Dimension;
        int k = EffectiveK;
        Span<float> nearDistance = stackalloc float[k];
        Span<int> nearIndex = stackalloc int[k];
        var result = new KnnPrediction[n];
        for (int q = 0; q < n; q++)
        {
            float[] scores = new float[_labels.Count];
            PredictInto(features.Slice(q * Dimension, Dimension), nearDistance, nearIndex, scores);
            result[q] = ToPrediction(scores);
        }
        return result;
    }

    /// <summary>Distance from <paramref name="query"/> to stored example <paramref name="index"/> under <see cref="Metric"/>.</summary>
    public float Distance(ReadOnlySpan<float> query, int index)
    {
        CheckLength(query.Length);
        CheckIndex(index);
        return DistanceTo(query, TensorPrimitives.Norm(query), index);
    }

    private float DistanceTo(ReadOnlySpan<float> query, float queryNorm, int index)
    {
        ReadOnlySpan<float> e = _features.AsSpan(index * Dimension, Dimension);
        if (Metric == KnnMetric.Euclidean)
            return TensorPrimitives.Distance(query, e);
        float cos = TensorPrimitives.Dot(query, e) / ((queryNorm + NormEpsilon) * (_norms[index] + NormEpsilon));
        return Math.Max(0f, 1f - cos);
    }

    private void PredictInto(ReadOnlySpan<float> query, Span<float> nearDistance, Span<int> nearIndex, Span<float> scores)
    {
        int k = nearIndex.Length;
        float queryNorm = Metric == KnnMetric.Cosine ? TensorPrimitives.Norm(query) : 0f;
        int held = 0;
        // Keep the k nearest in a sorted array. Scanning in insertion order and inserting only when strictly
        // nearer than the current k-th makes ties go to the example added first, as ONNX TopK does.
        for (int i = 0; i < Count; i++)
        {
            float d = DistanceTo(query, queryNorm, i);
            if (held == k && !(d < nearDistance[k - 1]))
                continue;
            int pos = held == k ? k - 1 : held++;
            while (pos > 0 && d < nearDistance[pos - 1])
            {
                nearDistance[pos] = nearDistance[pos - 1];
                nearIndex[pos] = nearIndex[pos - 1];
                pos--;
            }
            nearDistance[pos] = d;
            nearIndex[pos] = i;
        }

        scores.Clear();
        float total = 0f;
        for (int j = 0; j < k; j++)
        {
            float w = Weighting == KnnWeighting.Uniform ? 1f : 1f / (nearDistance[j] + InverseDistanceEpsilon);
            scores[_labelOf[nearIndex[j]]] += w;
            total += w;
        }
        TensorPrimitives.Divide(scores, total, scores);
    }

    private KnnPrediction ToPrediction(float[] probabilities)
    {
        int best = 0;
        for (int i = 1; i < probabilities.Length; i++)
            if (probabilities[i] > probabilities[best])
                best = i;
        return new KnnPrediction(_labels[best], best, probabilities);
    }

    private void CheckLength(int length)
    {
        if (length != Dimension)
            throw new TailorException($"The k-NN expects features of length {Dimension}, but got length {length}.");
    }

    private void CheckNotEmpty()
    {
        if (Count == 0)
            throw new TailorException(
                "The k-NN holds no examples; add some with KNearestNeighbors.Add (or `tailor train --head knn`) before predicting.");
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new TailorException($"Example index {index} is out of range; the k-NN holds {Count} examples.");
    }
}
