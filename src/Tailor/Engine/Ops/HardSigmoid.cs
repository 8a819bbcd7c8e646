using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX HardSigmoid (opset 6+): <c>Y = max(0, min(1, alpha·X + beta))</c>, alpha 0.2 and beta 0.5 by default
/// (MobileNetV3's squeeze-excitation gate exports with alpha = 1/6). Gradient: dX = alpha · dY where
/// 0 &lt; alpha·X + beta &lt; 1, else 0.
/// </summary>
[OnnxOp("HardSigmoid")]
internal sealed class HardSigmoid : Op
{
    readonly float alpha, beta;

    public HardSigmoid(OpContext context) : base(context)
    {
        context.Input(0);
        alpha = context.Float("alpha", 0.2f);
        beta = context.Float("beta", 0.5f);
        if (!float.IsFinite(alpha) || !float.IsFinite(beta))
            throw context.Fail($"alpha ({alpha}) and beta ({beta}) must be finite.");
    }

    public override int[] InferShape(Node output) => SameShape(output);

    public override void Forward(Node output, bool training)
    {
        var y = output.Value;
        TensorPrimitives.Multiply(output.Inputs[0]!.Value, alpha, y);
        TensorPrimitives.Add(y, beta, y);
        TensorPrimitives.Clamp(y, 0f, 1f, y);
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient) return;
        var dx = xNode.GradientForAccumulation();
        ReadOnlySpan<float> x = xNode.Value, dy = output.Gradient;
        for (int i = 0; i < dx.Length; i++)
        {
            float z = alpha * x[i] + beta;
            if (z > 0 && z < 1) dx[i] += alpha * dy[i];
        }
    }
}
