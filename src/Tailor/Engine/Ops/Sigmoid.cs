using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>ONNX Sigmoid: <c>Y = 1 / (1 + e^−X)</c>. Gradient from the output: dX = dY · Y · (1 − Y).</summary>
[OnnxOp("Sigmoid")]
internal sealed class Sigmoid : Op
{
    public Sigmoid(OpContext context) : base(context) => context.Input(0);

    public override int[] InferShape(Node output) => SameShape(output);

    public override void Forward(Node output, bool training) => TensorPrimitives.Sigmoid(output.Inputs[0]!.Value, output.Value);

    public override void Backward(Node output)
    {
        var x = output.Inputs[0]!;
        if (!x.RequiresGradient) return;
        var dx = x.GradientForAccumulation();
        ReadOnlySpan<float> y = output.Value, dy = output.Gradient;
        for (int i = 0; i < dx.Length; i++)
            dx[i] += dy[i] * y[i] * (1 - y[i]);
    }
}
