using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>ONNX Tanh. Gradient from the output: dX = dY · (1 − Y²).</summary>
[OnnxOp("Tanh")]
internal sealed class Tanh : Op
{
    public Tanh(OpContext context) : base(context) => context.Input(0);

    public override int[] InferShape(Node output) => SameShape(output);

    public override void Forward(Node output, bool training) => TensorPrimitives.Tanh(output.Inputs[0]!.Value, output.Value);

    public override void Backward(Node output)
    {
        var x = output.Inputs[0]!;
        if (!x.RequiresGradient) return;
        var dx = x.GradientForAccumulation();
        ReadOnlySpan<float> y = output.Value, dy = output.Gradient;
        for (int i = 0; i < dx.Length; i++)
            dx[i] += dy[i] * (1 - y[i] * y[i]);
    }
}
