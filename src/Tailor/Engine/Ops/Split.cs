using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Split along <c>axis</c> (default 0, negative counts from the end) into the node's outputs — ShuffleNetV2's
/// channel split. Part sizes come from 'split' (an attribute before opset 13, a constant input from 13); without
/// it the axis is divided equally among the outputs. Each used output is its own engine node (this op computes
/// output <see cref="OpContext.OutputIndex"/>), so the input's gradient is the sum of what each part sends back.
/// Opset 18's num_outputs is not read (the model's opset range is 7–17).
/// </summary>
[OnnxOp("Split", MultipleOutputs = true)]
internal sealed class Split : Op
{
    readonly int axis, part, parts;
    readonly long[]? split;

    public Split(OpContext context) : base(context)
    {
        context.Input(0);
        axis = checked((int)context.Int("axis", 0));
        part = context.OutputIndex;
        parts = context.OutputCount;
        split = context.Opset < 13 ? context.Ints("split") : context.ConstantInt64s(1, "split");
        if (split is not null && split.Length != parts)
            throw context.Fail($"split [{string.Join(",", split)}] has {split.Length} sizes for {parts} outputs.");
        if (split is not null && split.Any(s => s < 0))
            throw context.Fail($"split [{string.Join(",", split)}] may not hold negative sizes.");
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex == 0;

    /// <summary>Where this output's part starts along the axis, and its size.</summary>
    (int axis, int offset, int size) Part(int[] x)
    {
        int a = axis < 0 ? axis + x.Length : axis;
        if (a < 0 || a >= x.Length)
            throw Fail($"axis {axis} is out of range for rank {x.Length}.");
        if (split is null)
        {
            if (x[a] % parts != 0)
                throw Fail($"dimension {a} of size {x[a]} does not divide into {parts} equal parts; give 'split'.");
            int size = x[a] / parts;
            return (a, part * size, size);
        }
        if (split.Sum() != x[a])
            throw Fail($"split [{string.Join(",", split)}] sums to {split.Sum()}, but dimension {a} has size {x[a]}.");
        int offset = 0;
        for (int i = 0; i < part; i++) offset += (int)split[i];
        return (a, offset, (int)split[part]);
    }

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        if (x.Length > 8)
            throw Fail($"rank {x.Length} is above the supported 8.");
        var (a, _, size) = Part(x);
        var shape = (int[])x.Clone();
        shape[a] = size;
        return shape;
    }

    StridedWindow Window(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        var (a, offset, _) = Part(x);
        Span<int> begin = stackalloc int[x.Length], step = stackalloc int[x.Length];
        begin.Clear();
        step.Fill(1);
        begin[a] = offset;
        return StridedWindow.Create(output.Shape, x, begin, step);
    }

    public override void Forward(Node output, bool training) => Window(output).Gather(output.Inputs[0]!.Value, output.Value);

    public override void Backward(Node output)
    {
        var x = output.Inputs[0]!;
        if (x.RequiresGradient)
            Window(output).ScatterAdd(output.Gradient, x.GradientForAccumulation());
    }
}
