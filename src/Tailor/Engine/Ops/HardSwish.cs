using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX HardSwish (opset 14+): <c>Y = X · max(0, min(1, X/6 + 1/2))</c> — X · HardSigmoid(X; 1/6, 1/2), the
/// activation of MobileNetV3. Gradient: dX = dY · (X/3 + 1/2) on −3 &lt; X &lt; 3, dY above 3, 0 below −3.
/// </summary>
[OnnxOp("HardSwish")]
internal sealed class HardSwish : Op
{
    public HardSwish(OpContext context) : base(context) => context.Input(0);

    public override int[] InferShape(Node output) => SameShape(output);

    public override void Forward(Node output, bool training)
    {
        ReadOnlySpan<float> x = output.Inputs[0]!.Value;
        var y = output.Value;
        TensorPrimitives.Multiply(x, 1f / 6, y);
        TensorPrimitives.Add(y, 0.5f, y);
        TensorPrimitives.Clamp(y, 0f, 1f, y);
        TensorPrimitives.Multiply(y, x, y);
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient) return;
        var dx = xNode.GradientForAccumulation();
        ReadOnlySpan<float> x = xNode.Value, dy = output.Gradient;
        for (int i = 0; i < dx.Length; i++)
        {
            float v = x[i];
            if (v >= 3) dx[i] += dy[i];
            else if (v > -3) dx[i] += dy[i] * (v * (1f / 3) + 0.5f);
        }
    }
}
