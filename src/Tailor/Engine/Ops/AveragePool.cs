using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX AveragePool, 2-D NCHW, with kernel_shape, strides, pads (asymmetric), auto_pad, dilations, ceil_mode.
/// Each output is the window's sum over its divisor: with count_include_pad = 0 (default) the number of real
/// pixels in the window; with 1, the number of positions inside the padded input (padding counts as zeros,
/// but positions past the end padding, which ceil_mode can create, still do not count).
/// Gradient: dX[p] += dY / divisor for every real pixel p of the window.
/// </summary>
[OnnxOp("AveragePool")]
internal sealed class AveragePool : Op
{
    readonly Window2D.Attributes window;
    readonly bool countIncludePad;

    public AveragePool(OpContext context) : base(context)
    {
        context.Input(0);
        window = Window2D.ReadAttributes(context, null);
        countIncludePad = context.Int("count_include_pad", 0) != 0;
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

    /// <summary>The window's row (or column) range clipped to real pixels, and the divisor's extent along it.</summary>
    static (int first, int last, int counted) Extent(int o, int stride, int pad, int kernel, int dilation, int size, int padEnd, bool includePad)
    {
        int start = o * stride - pad;
        int first = 0, last = kernel - 1;
        while (first <= last && start + first * dilation < 0) first++;
        while (last >= first && start + last * dilation >= size) last--;
        int counted = last - first + 1;
        if (includePad)
        {
            int f = 0, l = kernel - 1;
            while (f <= l && start + f * dilation < -pad) f++;
            while (l >= f && start + l * dilation >= size + padEnd) l--;
            counted = l - f + 1;
        }
        return (first, last, counted);
    }

    /// <summary>Whether the one window is the whole unpadded plane (ResNet's 7×7 pool on a 7×7 map, SqueezeNet's 13×13):
    /// each output is then the plane's mean, as <see cref="GlobalAveragePool"/> computes it, with no per-pixel window arithmetic.</summary>
    static bool WholePlane(in Window2D g) => g.OutH == 1 && g.OutW == 1 && g.KernelH == g.InH && g.KernelW == g.InW &&
        g.DilationH == 1 && g.DilationW == 1 && g.PadTop == 0 && g.PadLeft == 0 && g.PadBottom == 0 && g.PadRight == 0;

    public override void Forward(Node output, bool training)
    {
        var xNode = output.Inputs[0]!;
        var g = Window2D.Resolve(window, xNode.Shape[2], xNode.Shape[3], out _);
        int planes = xNode.Shape[0] * xNode.Shape[1], inArea = g.InH * g.InW;
        ReadOnlySpan<float> x = xNode.Value;
        var y = output.Value;
        if (WholePlane(g))
        {
            for (int p = 0; p < planes; p++)
                y[p] = System.Numerics.Tensors.TensorPrimitives.Sum(x.Slice(p * inArea, inArea)) / inArea;
            return;
        }
        int o = 0;
        for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < g.OutH; oy++)
        {
            var (iy0, iy1, ny) = Extent(oy, g.StrideH, g.PadTop, g.KernelH, g.DilationH, g.InH, g.PadBottom, countIncludePad);
            for (int ox = 0; ox < g.OutW; ox++, o++)
            {
                var (jx0, jx1, nx) = Extent(ox, g.StrideW, g.PadLeft, g.KernelW, g.DilationW, g.InW, g.PadRight, countIncludePad);
                float sum = 0;
                for (int i = iy0; i <= iy1; i++)
                {
                    int row = p * inArea + (oy * g.StrideH - g.PadTop + i * g.DilationH) * g.InW;
                    for (int j = jx0; j <= jx1; j++)
                        sum += x[row + ox * g.StrideW - g.PadLeft + j * g.DilationW];
                }
                int divisor = ny * nx;
                y[o] = divisor > 0 ? sum / divisor : 0;
            }
        }
    }

    public override void Backward(Node output)
    {
        var xNode = output.Inputs[0]!;
        if (!xNode.RequiresGradient) return;
        var g = Window2D.Resolve(window, xNode.Shape[2], xNode.Shape[3], out _);
        int planes = xNode.Shape[0] * xNode.Shape[1], inArea = g.InH * g.InW;
        var dx = xNode.GradientForAccumulation();
        ReadOnlySpan<float> dy = output.Gradient;
        if (WholePlane(g))
        {
            for (int p = 0; p < planes; p++)
            {
                var plane = dx.Slice(p * inArea, inArea);
                System.Numerics.Tensors.TensorPrimitives.Add(plane, dy[p] / inArea, plane);
            }
            return;
        }
        int o = 0;
        for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < g.OutH; oy++)
        {
            var (iy0, iy1, ny) = Extent(oy, g.StrideH, g.PadTop, g.KernelH, g.DilationH, g.InH, g.PadBottom, countIncludePad);
            for (int ox = 0; ox < g.OutW; ox++, o++)
            {
                var (jx0, jx1, nx) = Extent(ox, g.StrideW, g.PadLeft, g.KernelW, g.DilationW, g.InW, g.PadRight, countIncludePad);
                int divisor = ny * nx;
                if (divisor == 0) continue;
                float share = dy[o] / divisor;
                for (int i = iy0; i <= iy1; i++)
                {
                    int row = p * inArea + (oy * g.StrideH - g.PadTop + i * g.DilationH) * g.InW;
                    for (int j = jx0; j <= jx1; j++)
                        dx[row + ox * g.StrideW - g.PadLeft + j * g.DilationW] += share;
                }
            }
        }
    }
}
