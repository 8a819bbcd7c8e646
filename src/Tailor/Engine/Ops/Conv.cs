using System.Numerics.Tensors;
using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Conv, 2-D, NCHW: X [N, C, H, W], W [M, C/group, kh, kw], optional B [M] → Y [N, M, OH, OW].
/// Per image and group, the input is unfolded by im2col (skipped for 1×1 stride-1 unpadded kernels, where X
/// already is the column matrix) and Y_g = W_g · cols + B runs as one GEMM. Supports asymmetric pads,
/// auto_pad, stride, dilation and groups (depthwise when group = C).
/// Gradients: dW_g += dY_g · colsᵀ, dcols = W_gᵀ · dY_g folded back by col2im into dX, dB = Σ dY over N, OH, OW.
/// </summary>
[OnnxOp("Conv")]
internal sealed class Conv : Op
{
    readonly int group;
    readonly Window2D.Attributes window;
    float[] columns = [], columnGradient = [];

    public Conv(OpContext context) : base(context)
    {
        var w = context.Input(1);
        context.Input(0);
        if (w.Shape.Length != 4 && w.Kind != NodeKind.Computed)
            throw context.Fail($"only 2-D convolution is supported; W has shape [{string.Join(",", w.Shape)}].");
        group = checked((int)context.Int("group", 1));
        if (group < 1)
            throw context.Fail($"group must be at least 1, got {group}.");
        window = Window2D.ReadAttributes(context, w.Shape.Length == 4 ? [w.Shape[2], w.Shape[3]] : null);
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex <= 2;

    Window2D Geometry(Node output) => Window2D.Resolve(window, output.Inputs[0]!.Shape[2], output.Inputs[0]!.Shape[3], out _);

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        var w = output.Inputs[1]!.Shape;
        if (x.Length != 4 || w.Length != 4)
            throw Fail($"X and W must be 4-D (NCHW), got [{string.Join(",", x)}] and [{string.Join(",", w)}].");
        if (x[1] != w[1] * group || w[0] % group != 0)
            throw Fail($"X has {x[1]} channels, W [{string.Join(",", w)}] with group {group} expects {w[1] * group} and M divisible by the group count.");
        if (w[2] != window.Kernel[0] || w[3] != window.Kernel[1])
            throw Fail($"kernel_shape [{string.Join(",", window.Kernel)}] differs from W's spatial shape {w[2]}×{w[3]}.");
        if (output.Inputs.Length > 2 && output.Inputs[2] is { } b && (b.Shape.Length != 1 || b.Shape[0] != w[0]))
            throw Fail($"B must have shape [{w[0]}], got [{string.Join(",", b.Shape)}].");
        var g = Window2D.Resolve(window, x[2], x[3], out string? error);
        if (error is not null)
            throw Fail(error);
        return [x[0], w[0], g.OutH, g.OutW];
    }

    public override void Reserve(Node output)
    {
        var g = Geometry(output);
        if (g.IsPointwise)
            return;
        int size = output.Inputs[1]!.Shape[1] * g.KernelH * g.KernelW * g.OutH * g.OutW;
        if (columns.Length < size)
            columns = new float[size];
        if (output.Inputs[0]!.RequiresGradient && columnGradient.Length < size)
            columnGradient = new float[size];
    }

    public override void Forward(Node output, bool training)
    {
        var g = Geometry(output);
        var xNode = output.Inputs[0]!;
        var wNode = output.Inputs[1]!;
        var bias = output.Inputs.Length > 2 ? output.Inputs[2] : null;
        int n = xNode.Shape[0], c = xNode.Shape[1], m = wNode.Shape[0];
        int cg = c / group, mg = m / group, kk = cg * g.KernelH * g.KernelW;
        int inArea = g.InH * g.InW, outArea = g.OutH * g.OutW;
        ReadOnlySpan<float> x = xNode.Value, w = wNode.Value;
        var y = output.Value;
        for (int i = 0; i < n; i++)
        for (int gi = 0; gi < group; gi++)
        {
            var image = x.Slice((i * c + gi * cg) * inArea, cg * inArea);
            ReadOnlySpan<float> cols = image;
            if (!g.IsPointwise)
            {
                g.Im2Col(image, cg, columns);
                cols = columns.AsSpan(0, kk * outArea);
            }
            var yg = y.Slice((i * m + gi * mg) * outArea, mg * outArea);
            if (bias is not null)
                for (int j = 0; j < mg; j++)
                    yg.Slice(j * outArea, outArea).Fill(bias.Value[gi * mg + j]);
            Kernels.Gemm.Multiply(false, false, mg, outArea, kk, 1, w.Slice(gi * mg * kk, mg * kk), kk, cols, outArea, bias is null ? 0 : 1, yg, outArea);
        }
    }

    public override void Backward(Node output)
    {
        var g = Geometry(output);
        var xNode = output.Inputs[0]!;
        var wNode = output.Inputs[1]!;
        var bias = output.Inputs.Length > 2 ? output.Inputs[2] : null;
        int n = xNode.Shape[0], c = xNode.Shape[1], m = wNode.Shape[0];
        int cg = c / group, mg = m / group, kk = cg * g.KernelH * g.KernelW;
        int inArea = g.InH * g.InW, outArea = g.OutH * g.OutW;
        ReadOnlySpan<float> x = xNode.Value, w = wNode.Value, dy = output.Gradient;
        if (bias is { RequiresGradient: true })
        {
            var db = bias.GradientForAccumulation();
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++)
                    db[j] += TensorPrimitives.Sum(dy.Slice((i * m + j) * outArea, outArea));
        }
        Span<float> dw = wNode.RequiresGradient ? wNode.GradientForAccumulation() : default;
        Span<float> dx = xNode.RequiresGradient ? xNode.GradientForAccumulation() : default;
        if (!wNode.RequiresGradient && !xNode.RequiresGradient)
            return;
        for (int i = 0; i < n; i++)
        for (int gi = 0; gi < group; gi++)
        {
            var dyg = dy.Slice((i * m + gi * mg) * outArea, mg * outArea);
            var image = x.Slice((i * c + gi * cg) * inArea, cg * inArea);
            if (wNode.RequiresGradient)
            {
                ReadOnlySpan<float> cols = image;
                if (!g.IsPointwise)
                {
                    // Recomputing the columns costs less memory than keeping them for the whole batch.
                    g.Im2Col(image, cg, columns);
                    cols = columns.AsSpan(0, kk * outArea);
                }
                Kernels.Gemm.Multiply(false, true, mg, kk, outArea, 1, dyg, outArea, cols, outArea, 1, dw.Slice(gi * mg * kk, mg * kk), kk);
            }
            if (xNode.RequiresGradient)
            {
                var wg = w.Slice(gi * mg * kk, mg * kk);
                var dxg = dx.Slice((i * c + gi * cg) * inArea, cg * inArea);
                if (g.IsPointwise)
                    Kernels.Gemm.Multiply(true, false, kk, outArea, mg, 1, wg, kk, dyg, outArea, 1, dxg, outArea);
                else
                {
                    var dcols = columnGradient.AsSpan(0, kk * outArea);
                    Kernels.Gemm.Multiply(true, false, kk, outArea, mg, 1, wg, kk, dyg, outArea, 0, dcols, outArea);
                    g.Col2ImAdd(dcols, cg, dxg);
                }
            }
        }
    }
}
