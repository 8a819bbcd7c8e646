namespace Tailor.Engine.Losses;

/// <summary>
/// A weighted sum of loss terms, possibly on different outputs: <c>L = Σ_i w_i · L_i</c>. Each term seeds
/// its gradient scaled by its weight, so one <see cref="SuffixGraph.Backward"/> trains on the sum.
/// </summary>
public sealed class WeightedLossSum
{
    readonly (Loss Loss, float Weight)[] terms;

    /// <exception cref="ArgumentException">No terms, or a weight that is negative or not finite.</exception>
    public WeightedLossSum(IEnumerable<(Loss Loss, float Weight)> terms)
    {
        this.terms = [.. terms];
        if (this.terms.Length == 0)
            throw new ArgumentException("A weighted loss needs at least one term.", nameof(terms));
        foreach (var (_, w) in this.terms)
            if (!float.IsFinite(w) || w < 0)
                throw new ArgumentException($"Loss weights must be finite and non-negative, got {w}.", nameof(terms));
    }

    public IReadOnlyList<(Loss Loss, float Weight)> Terms => terms;

    /// <summary>Evaluates every term against its target (same order as <see cref="Terms"/>).</summary>
    /// <returns>The weighted sum of the mean losses; Correct is the first term's, if it has one.</returns>
    public LossResult Evaluate(SuffixGraph graph, ReadOnlySpan<LossTarget> targets, bool seedGradient = true)
    {
        if (targets.Length != terms.Length)
            throw new TailorException($"The weighted loss has {terms.Length} terms but got {targets.Length} targets.");
        double total = 0;
        int? correct = null;
        for (int i = 0; i < terms.Length; i++)
        {
            var r = terms[i].Loss.Evaluate(graph, targets[i], terms[i].Weight, seedGradient);
            total += terms[i].Weight * r.Value;
            if (i == 0) correct = r.Correct;
        }
        return new LossResult((float)total, correct);
    }
}
