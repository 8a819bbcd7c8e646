namespace Tailor.Engine.Losses;

/// <summary>What a loss compares a graph output with: class indices (one per example) or a float tensor.</summary>
/// <param name="ClassIndices">For classification losses: the true class of each example of the batch.</param>
/// <param name="Values">For regression losses: the target tensor, same shape as the output.</param>
public readonly record struct LossTarget(ReadOnlyMemory<int> ClassIndices, ReadOnlyMemory<float> Values)
{
    public static LossTarget Classes(ReadOnlyMemory<int> classIndices) => new(classIndices, default);
    public static LossTarget Tensor(ReadOnlyMemory<float> values) => new(default, values);
}

/// <summary>The mean loss over the batch, and how many examples the output's argmax got right (null where that means nothing).</summary>
public readonly record struct LossResult(float Value, int? Correct);

/// <summary>
/// A loss on one graph output. <see cref="Evaluate"/> computes the batch-mean loss after
/// <see cref="SuffixGraph.Forward"/> and, if asked, adds weight · d(loss)/d(output) to the graph's gradients
/// so that <see cref="SuffixGraph.Backward"/> can follow.
/// </summary>
public abstract class Loss
{
    protected Loss(string output) => Output = output;

    /// <summary>The graph output this loss reads.</summary>
    public string Output { get; }

    /// <param name="graph">A graph on which <see cref="SuffixGraph.Forward"/> just ran.</param>
    /// <param name="target">What the output should have been.</param>
    /// <param name="weight">Multiplies the seeded gradient (not the returned value); used by <see cref="WeightedLossSum"/>.</param>
    /// <param name="seedGradient">False to only measure (evaluation).</param>
    /// <exception cref="TailorException">The target does not fit the output (count, class index out of range).</exception>
    public abstract LossResult Evaluate(SuffixGraph graph, LossTarget target, float weight = 1f, bool seedGradient = true);
}
