using System.Buffers;
using System.Numerics.Tensors;
using System.Text;
using Tailor.Engine.Kernels;

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
/// <para><b>Prediction.</b> For a query x the distance to every stored example is computed (brute force; for a
/// batch, the dot products of up to 64 queries with blocks of 256 stored examples come from one GEMM each, and
/// d² = ‖x‖² + ‖e‖² − 2·x·e), the k nearest are kept, each votes for its label with weight
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
/// One query alone reads all n·D stored floats (memory-bandwidth bound at 10⁴ × 512: 20 MB); a batch reads each
/// block of stored examples once per 64 queries, so <see cref="PredictBatch"/> costs several times less per query
/// (<c>Tailor.Bench heads</c> prints both at 100, 1 000 and 10 000 stored). Beyond ~10⁵ examples an index, or the
/// logistic-regression head, fits better.</para>
/// <para>Labels are compared after Unicode NFC normalization (✌️ with or without a different composition is one label).
/// Not thread-safe for concurrent <see cref="Add"/>; concurrent predictions without adds are safe.</para>
/// </remarks>
public sealed class KNearestNeighbors
{
    /// <summary>Default number of neighbours: <see cref="TrainingDefaults.KnnK"/>.</summary>
    public const int DefaultK = TrainingDefaults.KnnK;

    /// <summary>Smallest allowed k.</summary>
    public const int MinK = 1;

    /// <summary>Largest allowed k.</summary>
    public const int MaxK = 100;

    /// <summary>ε in the inverse-distance weight 1 / (d + ε): keeps an exact match (d = 0) finite.</summary>
    public const float InverseDistanceEpsilon = 1e-6f;

    // Cosine: ‖v‖ + tiny in the denominator keeps a zero vector at cosine 0 (distance 1) without a branch; the
    // exported graph uses the same expression.
    internal const float NormEpsilon = 1e-12f;

    /// <summary>Stored examples compared with a group of queries per GEMM: 256 × 512 floats (512 KB) stay in L2
    /// while every query of the group is compared with them.</summary>
    private const int ExampleBlock = 256;

    /// <summary>Queries per GEMM: enough to amortize reading an example block from memory, few enough that their
    /// dot products (64 × 256 floats) stay in L1/L2.</summary>
    private const int QueryBlock = 64;

    private float[] _features = [];   // Count × Dimension, row-major
    private float[] _squares = [];    // ‖e‖² per example, from the same dot-product kernel as the distances
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
    public KNearestNeighbors(int dimension, int k = DefaultK, KnnWeighting weighting = TrainingDefaults.KnnWeighting,
        KnnMetric metric = TrainingDefaults.KnnMetric)
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
            Array.Resize(ref _squares, capacity);
            Array.Resize(ref _norms, capacity);
            Array.Resize(ref _labelOf, capacity);
        }
        features.CopyTo(_features.AsSpan(Count * Dimension, Dimension));
        _squares[Count] = SelfDot(features);
        _norms[Count] = MathF.Sqrt(_squares[Count]);
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
        return PredictBatch(feature)[0];
    }

    /// <summary>Predicts a batch of queries stored row-major: <paramref name="features"/>.Length = N·<see cref="Dimension"/>.</summary>
    /// <remarks>Every query gets exactly the result <see cref="Predict"/> gives it alone: each distance is computed
    /// with the same arithmetic whatever the batch.</remarks>
    /// <exception cref="TailorException">No examples stored, or the length is not a multiple of <see cref="Dimension"/>.</exception>
    public KnnPrediction[] PredictBatch(ReadOnlySpan<float> features)
    {
        if (features.Length % Dimension != 0)
            throw new TailorException(
                $"A k-NN batch of {features.Length} floats is not a whole number of features of length {Dimension}.");
        CheckNotEmpty();
        int n = features.Length / Dimension;
        int k = EffectiveK;
        var result = new KnnPrediction[n];
        int queries = Math.Min(n, QueryBlock), examples = Math.Min(Count, ExampleBlock);
        float[] dots = ArrayPool<float>.Shared.Rent(queries * examples);
        float[] nearDistance = ArrayPool<float>.Shared.Rent(queries * k);
        int[] nearIndex = ArrayPool<int>.Shared.Rent(queries * k);
        try
        {
            Span<float> querySquares = stackalloc float[QueryBlock];
            Span<int> held = stackalloc int[QueryBlock];
            for (int q0 = 0; q0 < n; q0 += QueryBlock)
            {
                int qn = Math.Min(QueryBlock, n - q0);
                var block = features.Slice(q0 * Dimension, qn * Dimension);
                for (int q = 0; q < qn; q++)
                    querySquares[q] = SelfDot(block.Slice(q * Dimension, Dimension));
                held[..qn].Clear();
                for (int e0 = 0; e0 < Count; e0 += ExampleBlock)
                {
                    int en = Math.Min(ExampleBlock, Count - e0);
                    // dots[q, e] = query q · example e0 + e for the whole block in one GEMM.
                    Gemm.Multiply(false, true, qn, en, Dimension, 1f, block, Dimension,
                        _features.AsSpan(e0 * Dimension, en * Dimension), Dimension, 0f, dots, en, GemmVariant.SmallDirect);
                    for (int q = 0; q < qn; q++)
                        held[q] = Insert(dots.AsSpan(q * en, en), querySquares[q], e0,
                            nearDistance.AsSpan(q * k, k), nearIndex.AsSpan(q * k, k), held[q]);
                }
                for (int q = 0; q < qn; q++)
                {
                    float[] scores = new float[_labels.Count];
                    Vote(nearDistance.AsSpan(q * k, k), nearIndex.AsSpan(q * k, k), scores);
                    result[q0 + q] = ToPrediction(scores);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(dots);
            ArrayPool<float>.Shared.Return(nearDistance);
            ArrayPool<int>.Shared.Return(nearIndex);
        }
        return result;
    }

    /// <summary>Distance from <paramref name="query"/> to stored example <paramref name="index"/> under <see cref="Metric"/>
    /// (the value prediction uses, bit for bit).</summary>
    public float Distance(ReadOnlySpan<float> query, int index)
    {
        CheckLength(query.Length);
        CheckIndex(index);
        Span<float> dot = stackalloc float[1];
        Gemm.Multiply(false, true, 1, 1, Dimension, 1f, query, Dimension, _features.AsSpan(index * Dimension, Dimension), Dimension,
            0f, dot, 1, GemmVariant.SmallDirect);
        return DistanceFrom(dot[0], SelfDot(query), index);
    }

    /// <summary>
    /// Euclidean: √max(0, ‖q‖² + ‖e‖² − 2·q·e). The expansion turns a batch of distances into one GEMM; its rounding
    /// error grows with ‖q‖² + ‖e‖² rather than with the distance, so two near-identical vectors can come out a few
    /// ulps of their squared norms apart, and rounding can make d² slightly negative (hence the clamp). An exact match is
    /// exactly 0: ‖q‖², ‖e‖² and q·e come from one kernel with one summation order, so they are equal and cancel.
    /// Cosine: 1 − q·e / ((‖q‖ + ε)(‖e‖ + ε)), at least 0.
    /// </summary>
    private float DistanceFrom(float dot, float querySquare, int index)
    {
        if (Metric == KnnMetric.Euclidean)
        {
            float d2 = querySquare + _squares[index] - 2f * dot;
            return d2 > 0f ? MathF.Sqrt(d2) : 0f;
        }
        float cos = dot / ((MathF.Sqrt(querySquare) + NormEpsilon) * (_norms[index] + NormEpsilon));
        return Math.Max(0f, 1f - cos);
    }

    /// <summary>v·v by the dot-product kernel the distances use (a 1×1 GEMM), so v·v and q·e round alike.</summary>
    private static float SelfDot(ReadOnlySpan<float> v)
    {
        Span<float> dot = stackalloc float[1];
        Gemm.Multiply(false, true, 1, 1, v.Length, 1f, v, v.Length, v, v.Length, 0f, dot, 1, GemmVariant.SmallDirect);
        return dot[0];
    }

    /// <summary>
    /// Merges examples <paramref name="first"/>… (their dot products with one query) into that query's k nearest,
    /// kept sorted; returns how many are held. Examples arrive in insertion order and enter only when strictly nearer
    /// than the current k-th, so ties go to the example added first, as ONNX TopK does.
    /// </summary>
    private int Insert(ReadOnlySpan<float> dots, float querySquare, int first, Span<float> nearDistance, Span<int> nearIndex, int held)
    {
        int k = nearIndex.Length;
        for (int e = 0; e < dots.Length; e++)
        {
            float d = DistanceFrom(dots[e], querySquare, first + e);
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
            nearIndex[pos] = first + e;
        }
        return held;
    }

    private void Vote(ReadOnlySpan<float> nearDistance, ReadOnlySpan<int> nearIndex, Span<float> scores)
    {
        scores.Clear();
        float total = 0f;
        for (int j = 0; j < nearIndex.Length; j++)
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
                "The k-NN holds no examples; add some with KNearestNeighbors.Add (or HeadTrainer.TrainKnn) before predicting.");
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new TailorException($"Example index {index} is out of range; the k-NN holds {Count} examples.");
    }
}
