using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Clip: <c>Y = min(max(X, min), max)</c> — ReLU6 in MobileNets. Before opset 11 min and max are
/// attributes; from 11 they are optional inputs, which must be constants here. Gradient: dX = dY where
/// min ≤ X ≤ max, else 0.
/// </summary>
[OnnxOp("Clip")]
internal sealed class Clip : Op
{
    readonly float min, max;

    public Clip(OpContext context) : base(context)
    {
        context.Input(0);
        if (context.Opset < 11)
        {
            min = context.Float("min", float.MinValue);
            max = context.Float("max", float.MaxValue);
        }
        else
        {
            min = context.ConstantFloats(1, "min") is { } mn ? Single(mn, "min", context) : float.MinValue;
            max = context.ConstantFloats(2, "max") is { } mx ? Single(mx, "max", context) : float.MaxValue;
        }
        if (min > max)
            throw context.Fail($"min ({min}) is greater than max ({max}).");
    }

    static float Single(float[] values, string what, OpContext context) =>
        values.Length == 1 ? values[0] : throw context.Fail($"{what} must be a scalar, got {values.Length} values.");

    public override bool CanDifferentiate(int inputIndex) => inputIndex == 0;

    public override int[] InferShape(Node output) => SameShape(output);

    public override void Forward(Node output, bool training) =>
        TensorPrimitives.Clamp(output.Inputs[0]!.Value, min, max, output.Value);

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient) return;
        var dx = xNode.GradientForAccumulation();
        ReadOnlySpan<float> x = xNode.Value, dy = output.Gradient;
        for (int i = 0; i < dx.Length; i++)
            if (x[i] >= min && x[i] <= max) dx[i] += dy[i];
    }
}
