using System.Numerics.Tensors;

namespace Tailor.Engine.Ops;

/// <summary>ONNX GlobalAveragePool: [N, C, H, W] → [N, C, 1, 1], each plane's mean. Gradient: dX = dY / (H·W) over the plane.</summary>
[OnnxOp("GlobalAveragePool")]
internal sealed class GlobalAveragePool : Op
{
    public GlobalAveragePool(OpContext context) : base(context) => context.Input(0);

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        if (x.Length < 3)
            throw Fail($"X must have spatial dimensions, got shape [{string.Join(",", x)}].");
        return [x[0], x[1], .. Enumerable.Repeat(1, x.Length - 2)];
    }

    public override void Forward(Node output, bool training)
    {
        var xNode = output.Inputs[0]!;
        int planes = output.Length, area = planes == 0 ? 0 : xNode.Length / planes;
        ReadOnlySpan<float> x = xNode.Value;
        var y = output.Value;
        for (int p = 0; p < planes; p++)
            y[p] = TensorPrimitives.Sum(x.Slice(p * area, area)) / area;
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient) return;
        int planes = output.Length, area = planes == 0 ? 0 : xNode.Length / planes;
        var dx = xNode.GradientForAccumulation();
        ReadOnlySpan<float> dy = output.Gradient;
        for (int p = 0; p < planes; p++)
        {
            var plane = dx.Slice(p * area, area);
            TensorPrimitives.Add(plane, dy[p] / area, plane);
        }
    }
}
