using System.Numerics.Tensors;
using Tailor.Engine;
using Tailor.Engine.Losses;
using Tailor.Spec;

namespace Tailor.Training;

/// <summary>
/// The loss an update spec asks for (<see cref="UpdateSpec.LossTerms"/>: the main term and any weighted further
/// terms) evaluated on a batch of labelled examples. Cross-entropy terms take the label slots; mean-squared-error
/// terms take the labels' one-hot vectors over the model's slots. Accuracy comes from the main term's tensor.
/// Holds its target array, so evaluating allocates nothing. UpdateTask trains with it; a training loop of your own
/// over a <see cref="SuffixGraph"/> can use it too.
/// </summary>
public sealed class TrainingLoss
{
    private readonly LossSpec[] _terms;
    private readonly WeightedLossSum _sum;
    private readonly LossTarget[] _targets;
    private readonly int _capacity;

    /// <exception cref="ArgumentException">A weight is negative or not finite (a validated spec has none).</exception>
    public TrainingLoss(UpdateSpec spec) : this(spec.LossTerms, spec.Labels.Capacity) { }

    /// <summary>The loss of <paramref name="terms"/> over <paramref name="capacity"/> slots (a graph built by hand).</summary>
    internal TrainingLoss(IReadOnlyList<LossSpec> terms, int capacity)
    {
        _terms = [.. terms];
        _sum = new WeightedLossSum(_terms.Select(t => ((Loss)(t.Kind == LossKind.MeanSquaredError
            ? new MeanSquaredErrorLoss(t.Input) : new CrossEntropyLoss(t.Input)), (float)t.Weight)));
        _targets = new LossTarget[_terms.Length];
        _capacity = capacity;
        NeedsOneHot = _terms.Any(t => t.Kind == LossKind.MeanSquaredError);
        Outputs = _terms.Select(t => t.Input).Distinct().ToArray();
    }

    /// <summary>The tensors the suffix graph must compute (each term's input, once).</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>Whether a term needs the one-hot targets (a mean-squared-error term).</summary>
    public bool NeedsOneHot { get; }

    /// <summary>
    /// The weighted loss of the batch the graph just ran forward on, seeding every term's gradient when asked;
    /// Correct counts the examples whose main-term tensor has its maximum at the label's slot.
    /// </summary>
    /// <param name="graph">The suffix graph, after its forward pass on the batch.</param>
    /// <param name="labels">The label slot of each example.</param>
    /// <param name="oneHot">The labels' one-hot vectors, <c>labels.Length × capacity</c> (only read when <see cref="NeedsOneHot"/>).</param>
    /// <param name="seedGradient">False to only measure (validation).</param>
    /// <exception cref="TailorException">A mean-squared-error term reads a tensor without one value per slot per example.</exception>
    public LossResult Evaluate(SuffixGraph graph, ReadOnlyMemory<int> labels, ReadOnlyMemory<float> oneHot, bool seedGradient)
    {
        int count = labels.Length;
        for (int i = 0; i < _terms.Length; i++)
        {
            if (_terms[i].Kind == LossKind.CategoricalCrossEntropy)
            {
                _targets[i] = LossTarget.Classes(labels);
                continue;
            }
            var shape = graph.OutputShape(_terms[i].Input);
            int length = 1;
            foreach (int d in shape) length *= d;
            if (length != count * _capacity)
                throw new TailorException($"The loss term {_terms[i]} compares '{_terms[i].Input}' (shape [{string.Join(",", shape.ToArray())}] for " +
                    $"{count} examples) with one-hot labels, which need {_capacity} values per example (the model's slots).");
            _targets[i] = LossTarget.Tensor(oneHot[..(count * _capacity)]);
        }
        var result = _sum.Evaluate(graph, _targets, seedGradient);
        if (_terms[0].Kind == LossKind.MeanSquaredError)
        {
            // Mean squared error has no accuracy of its own: count argmax hits on its tensor.
            var output = graph.Output(_terms[0].Input);
            var slots = labels.Span;
            int hits = 0;
            for (int i = 0; i < count; i++)
                if (TensorPrimitives.IndexOfMax(output.Slice(i * _capacity, _capacity)) == slots[i]) hits++;
            result = result with { Correct = hits };
        }
        return result;
    }
}
