namespace Tailor.Engine.Losses;

/// <summary>
/// Mean squared error against a target tensor of the output's shape, averaged over every element:
/// <c>L = (1/n) Σ (y − t)²</c>, seeded gradient <c>2 (y − t) / n</c>. No accuracy (Correct is null).
/// </summary>
public sealed class MeanSquaredErrorLoss(string output) : Loss(output)
{
    public override LossResult Evaluate(SuffixGraph graph, LossTarget target, float weight = 1f, bool seedGradient = true)
    {
        var node = graph.NodeNamed(Output);
        ReadOnlySpan<float> y = node.Value, t = target.Values.Span;
        if (t.Length != y.Length)
            throw new TailorException($"Mean squared error on '{Output}' got {t.Length} target values for an output of {y.Length} (shape [{string.Join(",", node.Shape)}]).");
        Span<float> seed = seedGradient ? SuffixGraph.GradientBufferFor(node) : default;
        double total = 0;
        float scale = 2 * weight / Math.Max(y.Length, 1);
        for (int i = 0; i < y.Length; i++)
        {
            float diff = y[i] - t[i];
            total += (double)diff * diff;
            if (seedGradient) seed[i] += scale * diff;
        }
        return new LossResult(y.Length == 0 ? 0 : (float)(total / y.Length), null);
    }
}
