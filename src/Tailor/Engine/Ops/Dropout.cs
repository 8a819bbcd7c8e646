using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Dropout. In inference (and whenever ratio = 0) Y = X. In training each element is kept with
/// probability 1 − ratio and scaled by 1 / (1 − ratio), so the expected output equals the input
/// ("inverted dropout", what ONNX specifies). The mask comes from a SplitMix64 stream seeded by the graph
/// seed and the node name: the same seed and the same sequence of calls give bit-identical masks.
/// Gradient: dX = dY ⊙ mask (or dY after an inference forward).
/// Ratio: attribute before opset 12; a constant input from 12.
/// The optional second output, the mask, is a bool tensor in ONNX; the engine holds it as floats 1 (kept) and 0
/// (dropped) — all 1 in inference. It is its own engine node with its own op instance, which draws from the same
/// seeded stream as the first output's and so reproduces the very mask applied there. It passes no gradient (the
/// mask is piecewise constant in X); only ops that read it as data, never a trainable path, can follow it.
/// </summary>
[OnnxOp("Dropout", MultipleOutputs = true)]
internal sealed class Dropout : Op
{
    readonly float ratio;
    ulong state;
    float[] mask = [];
    bool maskActive;
    readonly bool isMaskOutput;

    public Dropout(OpContext context) : base(context)
    {
        context.Input(0);
        if (context.OutputIndex > 1)
            throw context.Fail($"has no output {context.OutputIndex}; Dropout's outputs are output and mask.");
        isMaskOutput = context.OutputIndex == 1;
        ratio = context.Opset < 12
            ? context.Float("ratio", 0.5f)
            : context.ConstantFloats(1, "ratio") is { } r ? (r.Length == 1 ? r[0] : throw context.Fail("ratio must be a scalar.")) : 0.5f;
        if (ratio is < 0 or >= 1)
            throw context.Fail($"ratio must be in [0, 1), got {ratio}.");
        if (context.OptionalInput(2) is { Kind: not NodeKind.Constant })
            throw context.Fail("training_mode must be a constant when given; the engine decides it from Forward(training).");
        // FNV-1a of the node name: stable across processes (string.GetHashCode is randomized per process).
        ulong hash = 14695981039346656037UL;
        foreach (char ch in context.NodeName) hash = (hash ^ ch) * 1099511628211UL;
        state = hash ^ (ulong)(uint)context.Seed * 0x9E3779B97F4A7C15UL;
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex == 0;

    public override int[] InferShape(Node output) => SameShape(output);

    public override void Reserve(Node output)
    {
        if (!isMaskOutput && mask.Length < output.Length) mask = new float[output.Length];
    }

    public override void Forward(Node output, bool training)
    {
        ReadOnlySpan<float> x = output.Inputs[0]!.Value;
        var y = output.Value;
        maskActive = training && ratio > 0;
        if (!maskActive)
        {
            if (isMaskOutput) y.Fill(1f);
            else x.CopyTo(y);
            return;
        }
        // Both outputs' ops draw one number per element per training forward, in the same order: same masks.
        float keep = isMaskOutput ? 1f : 1 / (1 - ratio);
        var m = isMaskOutput ? y : mask.AsSpan(0, x.Length);
        for (int i = 0; i < m.Length; i++)
            m[i] = NextUnit() >= ratio ? keep : 0f;
        if (!isMaskOutput)
            TensorPrimitives.Multiply(x, m, y);
    }

    /// <summary>SplitMix64 → a float in [0, 1) from the top 24 bits.</summary>
    float NextUnit()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 40) * (1f / (1 << 24));
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient || isMaskOutput) return; // the mask does not depend smoothly on X
        var dx = xNode.GradientForAccumulation();
        if (maskActive) TensorPrimitives.MultiplyAdd(output.Gradient, mask.AsSpan(0, dx.Length), dx, dx);
        else TensorPrimitives.Add(dx, output.Gradient, dx);
    }
}
