using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX LpNormalization with p = 2 over the last axis of a 2-D [N, D] input (how Tailor's head normalizes
/// features): <c>Y = X / ‖X‖₂</c> per row. Gradient: <c>dX = (dY − Y · (Y·dY)) / ‖X‖₂</c>. A row of zeros
/// has no direction; like ONNX Runtime we divide by its norm as is, and its gradient is taken as zero.
/// </summary>
[OnnxOp("LpNormalization")]
internal sealed class LpNormalization : Op
{
    float[] norms = [];

    public LpNormalization(OpContext context) : base(context)
    {
        context.Input(0);
        if (context.Int("p", 2) != 2) throw context.Fail($"p = {context.Int("p", 2)} is not supported; only p = 2.");
        long axis = context.Int("axis", -1);
        if (axis is not (1 or -1)) throw context.Fail($"axis = {axis} is not supported; only the last axis of a 2-D input (1 or −1).");
    }

    public override int[] InferShape(Node output)
    {
        var shape = output.Inputs[0]!.Shape;
        if (shape.Length != 2) throw Fail($"expects a 2-D [N, D] input; got [{string.Join(",", shape)}].");
        return SameShape(output);
    }

    public override void Reserve(Node output)
    {
        if (norms.Length < output.Shape[0]) norms = new float[output.Shape[0]];
    }

    public override void Forward(Node output, bool training)
    {
        int rows = output.Shape[0], d = output.Shape[1];
        ReadOnlySpan<float> x = output.Inputs[0]!.Value;
        Span<float> y = output.Value;
        for (int r = 0; r < rows; r++)
        {
            float norm = TensorPrimitives.Norm(x.Slice(r * d, d));
            norms[r] = norm;
            TensorPrimitives.Divide(x.Slice(r * d, d), norm, y.Slice(r * d, d));
        }
    }

    public override void Backward(Node output)
    {
        var input = output.Inputs[0]!;
        if (!input.RequiresGradient) return;
        int rows = output.Shape[0], d = output.Shape[1];
        ReadOnlySpan<float> y = output.Value, dy = output.Gradient;
        Span<float> dx = input.GradientForAccumulation();
        for (int r = 0; r < rows; r++)
        {
            if (norms[r] == 0) continue;
            var yr = y.Slice(r * d, d);
            var dyr = dy.Slice(r * d, d);
            var dxr = dx.Slice(r * d, d);
            float dot = TensorPrimitives.Dot(yr, dyr), inv = 1f / norms[r];
            for (int i = 0; i < d; i++) dxr[i] += (dyr[i] - yr[i] * dot) * inv;
        }
    }
}
