using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX MaxPool, 2-D NCHW, with kernel_shape, strides, pads (asymmetric), auto_pad, dilations and ceil_mode.
/// Padding never wins (it counts as −∞). The forward pass remembers where each maximum came from, and the
/// backward pass routes dY there: dX[argmax] += dY (ties go to the first position in the window).
/// Only the first output is computed (the optional Indices output is not supported).
/// </summary>
[OnnxOp("MaxPool")]
internal sealed class MaxPool : Op
{
    readonly Window2D.Attributes window;
    int[] argmax = [];

    public MaxPool(OpContext context) : base(context)
    {
        context.Input(0);
        window = Window2D.ReadAttributes(context, null);
        if (context.Int("storage_order", 0) != 0)
            throw context.Fail("storage_order = 1 (column-major indices) is not supported.");
    }

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        if (x.Length != 4)
            throw Fail($"only 2-D pooling (NCHW) is supported; X has shape [{string.Join(",", x)}].");
        var g = Window2D.Resolve(window, x[2], x[3], out string? error);
        if (error is not null) throw Fail(error);
        return [x[0], x[1], g.OutH, g.OutW];
    }

    public override void Reserve(Node output)
    {
        if (argmax.Length < output.Length)
            argmax = new int[output.Length];
    }

    public override void Forward(Node output, bool training)
    {
        var xNode = output.Inputs[0]!;
        var g = Window2D.Resolve(window, xNode.Shape[2], xNode.Shape[3], out _);
        int planes = xNode.Shape[0] * xNode.Shape[1], inArea = g.InH * g.InW;
        ReadOnlySpan<float> x = xNode.Value;
        var y = output.Value;
        int o = 0;
        for (int p = 0; p < planes; p++)
        {
            int planeStart = p * inArea;
            for (int oy = 0; oy < g.OutH; oy++)
            for (int ox = 0; ox < g.OutW; ox++, o++)
            {
                float best = float.NegativeInfinity;
                int bestIndex = -1;
                for (int i = 0; i < g.KernelH; i++)
                {
                    int yy = oy * g.StrideH - g.PadTop + i * g.DilationH;
                    if ((uint)yy >= (uint)g.InH) continue;
                    for (int j = 0; j < g.KernelW; j++)
                    {
                        int xx = ox * g.StrideW - g.PadLeft + j * g.DilationW;
                        if ((uint)xx >= (uint)g.InW) continue;
                        int index = planeStart + yy * g.InW + xx;
                        if (bestIndex < 0 || x[index] > best)
                        {
                            best = x[index];
                            bestIndex = index;
                        }
                    }
                }
                y[o] = best;
                argmax[o] = bestIndex;
            }
        }
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient) return;
        var dx = xNode.GradientForAccumulation();
        ReadOnlySpan<float> dy = output.Gradient;
        for (int o = 0; o < dy.Length; o++)
            if (argmax[o] >= 0)
                dx[argmax[o]] += dy[o];
    }
}
