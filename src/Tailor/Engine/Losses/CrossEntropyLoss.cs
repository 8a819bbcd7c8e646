using System.Numerics.Tensors;
using Tailor.Engine.Ops;

namespace Tailor.Engine.Losses;

/// <summary>
/// Categorical cross-entropy against class indices: <c>L = −(1/B) Σ_b log p[b, y_b]</c>, where the output
/// holds B rows of class probabilities.
/// </summary>
/// <remarks>
/// When the output is computed by a Softmax (or LogSoftmax) over its rows — directly, or through Flatten, Reshape or
/// Identity nodes that only re-view it — the gradient is seeded at the
/// Softmax's <i>input</i> as <c>(p − onehot(y)) / B</c>: the exact combined derivative, which stays finite even
/// when p underflows to 0 — seeding −1/p through the Softmax would not. Otherwise the output is taken as
/// probabilities, clamped below at <see cref="Epsilon"/>, and seeded with <c>−1 / (B · max(p, ε))</c> at the true class.
/// </remarks>
public sealed class CrossEntropyLoss(string output) : Loss(output)
{
    /// <summary>Lower clamp for probabilities in log and division (1e-7).</summary>
    public const float Epsilon = 1e-7f;

    public override LossResult Evaluate(SuffixGraph graph, LossTarget target, float weight = 1f, bool seedGradient = true)
    {
        var node = graph.NodeNamed(Output);
        var labels = target.ClassIndices.Span;
        int batch = labels.Length;
        if (batch == 0 || node.Length % batch != 0 || node.Shape.Length == 0 || node.Shape[0] != batch)
            throw new TailorException($"Cross-entropy on '{Output}' got {batch} labels for an output of shape [{string.Join(",", node.Shape)}].");
        int classes = node.Length / batch;
        ReadOnlySpan<float> y = node.Value;
        // An output that only re-views a Softmax (an adopted classifier's Softmax → Flatten) holds the same values in
        // the same order: the Softmax is what the exact seed goes through.
        var source = node;
        while (source.Op is Flatten or Reshape or Identity && source.Inputs[0] is { } viewed && viewed.Length == source.Length)
            source = viewed;
        bool isLog = source.Op is LogSoftmax;
        int fusedRow = source.Op switch
        {
            Softmax s => s.ContiguousRowLength(source),
            LogSoftmax l => l.ContiguousRowLength(source),
            _ => 0,
        };
        bool fused = fusedRow == classes && source.Inputs[0] is { RequiresGradient: true };
        if (isLog && !fused && seedGradient)
            throw new TailorException($"Cross-entropy on '{Output}': a LogSoftmax output is supported only over rows of {classes} classes.");

        double total = 0;
        int correct = 0;
        Span<float> seed = default;
        if (seedGradient)
            seed = SuffixGraph.GradientBufferFor(fused ? source.Inputs[0]! : node);
        float scale = weight / batch;
        for (int b = 0; b < batch; b++)
        {
            int label = labels[b];
            if ((uint)label >= (uint)classes)
                throw new TailorException($"Label {label} of example {b} is outside the {classes} classes of '{Output}'.");
            var row = y.Slice(b * classes, classes);
            if (TensorPrimitives.IndexOfMax(row) == label) correct++;
            total -= isLog ? row[label] : Math.Log(Math.Max(row[label], Epsilon));
            if (!seedGradient) continue;
            var g = seed.Slice(b * classes, classes);
            if (fused)
            {
                for (int k = 0; k < classes; k++)
                    g[k] += scale * ((isLog ? MathF.Exp(row[k]) : row[k]) - (k == label ? 1f : 0f));
            }
            else
                g[label] -= scale / Math.Max(row[label], Epsilon);
        }
        return new LossResult((float)(total / batch), correct);
    }
}
