using Tailor.Engine.Kernels;

namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Slice: along each listed axis, elements start, start + step, … up to (excluding) end. Opsets 1–9 take
/// starts, ends and axes as attributes (step 1); from 10 they are inputs (starts, ends, optional axes and steps),
/// which must be constants (initializers, Constant nodes or shapes folded at build). Negative starts/ends count from
/// the end, out-of-range ones are clamped (ends of INT64_MAX mean "to the end"), negative steps walk backwards.
/// Gradient: dX gets dY back in the sliced positions.
/// </summary>
[OnnxOp("Slice")]
internal sealed class Slice : Op
{
    readonly long[] starts, ends, steps;
    readonly long[]? axes;

    public Slice(OpContext context) : base(context)
    {
        context.Input(0);
        if (context.Opset < 10)
        {
            starts = context.Ints("starts") ?? throw context.Fail("the 'starts' attribute is required.");
            ends = context.Ints("ends") ?? throw context.Fail("the 'ends' attribute is required.");
            axes = context.Ints("axes");
            steps = [.. Enumerable.Repeat(1L, starts.Length)];
        }
        else
        {
            starts = context.ConstantInt64s(1, "starts") ?? throw context.Fail("the starts input is required.");
            ends = context.ConstantInt64s(2, "ends") ?? throw context.Fail("the ends input is required.");
            axes = context.ConstantInt64s(3, "axes");
            steps = context.ConstantInt64s(4, "steps") ?? [.. Enumerable.Repeat(1L, starts.Length)];
        }
        if (ends.Length != starts.Length || steps.Length != starts.Length || (axes is not null && axes.Length != starts.Length))
            throw context.Fail($"starts ({starts.Length}), ends ({ends.Length}), axes ({axes?.Length.ToString() ?? "absent"}) and steps ({steps.Length}) must have the same length.");
        if (Array.IndexOf(steps, 0L) >= 0)
            throw context.Fail($"steps [{string.Join(",", steps)}] may not contain 0.");
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex == 0;

    /// <summary>The first index, step and count along every dimension of an input of shape <paramref name="x"/>.</summary>
    void Resolve(int[] x, Span<int> begin, Span<int> step, Span<int> count)
    {
        for (int d = 0; d < x.Length; d++) { begin[d] = 0; step[d] = 1; count[d] = x[d]; }
        Span<bool> seen = stackalloc bool[x.Length];
        for (int i = 0; i < starts.Length; i++)
        {
            long a = axes is null ? i : axes[i] < 0 ? axes[i] + x.Length : axes[i];
            if (a < 0 || a >= x.Length)
                throw Fail($"axis {(axes is null ? i : axes[i])} is out of range for rank {x.Length}.");
            if (seen[(int)a])
                throw Fail($"axis {a} is listed twice in axes [{string.Join(",", axes!)}].");
            seen[(int)a] = true;
            long dim = x[a], s = starts[i], e = ends[i], st = steps[i];
            step[(int)a] = checked((int)st);
            if (dim == 0) continue;
            if (s < 0) s += dim;
            if (e < 0) e += dim;
            // The clamping rule of the ONNX spec: forwards [0, dim], backwards [0, dim − 1] for start and [−1, dim − 1] for end.
            s = st > 0 ? Math.Clamp(s, 0, dim) : Math.Clamp(s, 0, dim - 1);
            e = st > 0 ? Math.Clamp(e, 0, dim) : Math.Clamp(e, -1, dim - 1);
            long n = st > 0 ? (e - s + st - 1) / st : (s - e + (-st) - 1) / (-st);
            begin[(int)a] = (int)s;
            count[(int)a] = (int)Math.Max(0, n);
        }
    }

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        if (x.Length > 8)
            throw Fail($"rank {x.Length} is above the supported 8.");
        Span<int> begin = stackalloc int[x.Length], step = stackalloc int[x.Length];
        var shape = new int[x.Length];
        Resolve(x, begin, step, shape);
        return shape;
    }

    StridedWindow Window(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        Span<int> begin = stackalloc int[x.Length], step = stackalloc int[x.Length], count = stackalloc int[x.Length];
        Resolve(x, begin, step, count);
        return StridedWindow.Create(count, x, begin, step);
    }

    public override void Forward(Node output, bool training) => Window(output).Gather(output.Inputs[0]!.Value, output.Value);

    public override void Backward(Node output)
    {
        var x = output.Inputs[0]!;
        if (x.RequiresGradient)
            Window(output).ScatterAdd(output.Gradient, x.GradientForAccumulation());
    }
}
