namespace Tailor.Engine.Ops;

/// <summary>
/// ONNX Pad: adds pads[d] elements before and pads[rank + d] after each dimension d (negative values crop). Modes:
/// constant (the value; what classifiers use, e.g. TensorFlow-style asymmetric "same" padding before a strided conv),
/// reflect (mirrors without repeating the edge) and edge (repeats it). Pads and value are attributes before opset 11,
/// constant inputs from 11; opset 18's axes input and opset 19's wrap mode are refused. Gradient: every output
/// element read from the input sends its dY back there (reflect and edge add several into one input element).
/// </summary>
[OnnxOp("Pad")]
internal sealed class Pad : Op
{
    enum Mode { Constant, Reflect, Edge }

    readonly long[] pads;
    readonly float value;
    readonly Mode mode;

    public Pad(OpContext context) : base(context)
    {
        context.Input(0);
        string modeName = context.String("mode", "constant");
        mode = modeName switch
        {
            "constant" => Mode.Constant,
            "reflect" => Mode.Reflect,
            "edge" => Mode.Edge,
            _ => throw context.Fail($"mode '{modeName}' is not supported; use constant, reflect or edge."),
        };
        if (context.Opset < 11)
        {
            pads = context.Ints("pads") ?? throw context.Fail("the 'pads' attribute is required.");
            value = context.Float("value", 0f);
        }
        else
        {
            pads = context.ConstantInt64s(1, "pads") ?? throw context.Fail("the pads input is required.");
            value = context.ConstantFloats(2, "constant_value") is { } v
                ? (v.Length == 1 ? v[0] : throw context.Fail($"constant_value must be a scalar, got {v.Length} values."))
                : 0f;
            if (context.OptionalInput(3) is not null)
                throw context.Fail("the axes input (opset 18) is not supported; give pads for every dimension.");
        }
        if (pads.Length % 2 != 0)
            throw context.Fail($"pads [{string.Join(",", pads)}] must hold a begin and an end for each dimension.");
    }

    public override bool CanDifferentiate(int inputIndex) => inputIndex == 0;

    public override int[] InferShape(Node output)
    {
        var x = output.Inputs[0]!.Shape;
        int rank = x.Length;
        if (pads.Length != 2 * rank)
            throw Fail($"pads [{string.Join(",", pads)}] has {pads.Length} values; the input of rank {rank} needs {2 * rank}.");
        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            long size = x[d] + pads[d] + pads[rank + d];
            if (size < 0)
                throw Fail($"pads [{string.Join(",", pads)}] crop dimension {d} of size {x[d]} below zero.");
            if (mode == Mode.Reflect && (pads[d] >= x[d] || pads[rank + d] >= x[d]) && x[d] > 0)
                throw Fail($"reflect padding of dimension {d} by more than its size − 1 ({x[d] - 1}) is not defined: pads [{string.Join(",", pads)}].");
            if (mode != Mode.Constant && x[d] == 0 && size > 0)
                throw Fail($"{mode.ToString().ToLowerInvariant()} padding cannot fill dimension {d}, which is empty.");
            shape[d] = checked((int)size);
        }
        return shape;
    }

    /// <summary>The input index that output index <paramref name="i"/> of a dimension reads, or −1 for the constant.</summary>
    int Source(int i, int before, int n)
    {
        int c = i - before;
        if ((uint)c < (uint)n) return c;
        switch (mode)
        {
            case Mode.Edge: return c < 0 ? 0 : n - 1;
            case Mode.Reflect:
                if (n == 1) return 0;
                int period = 2 * (n - 1);
                c %= period;
                if (c < 0) c += period;
                return c >= n ? period - c : c;
            default: return -1;
        }
    }

    public override void Forward(Node output, bool training) => Walk(output, forward: true);

    public override void Backward(Node output)
    {
        if (output.Inputs[0]!.RequiresGradient)
            Walk(output, forward: false);
    }

    /// <summary>Visits the output row by row (rows along the last dimension), finding the input row each reads.</summary>
    void Walk(Node output, bool forward)
    {
        var xNode = output.Inputs[0]!;
        int[] xs = xNode.Shape, ys = output.Shape;
        int rank = ys.Length;
        if (output.Length == 0) return;
        ReadOnlySpan<float> x = forward ? xNode.Value : default;
        Span<float> y = forward ? output.Value : default;
        ReadOnlySpan<float> dy = forward ? default : output.Gradient;
        Span<float> dx = forward ? default : xNode.GradientForAccumulation();
        if (rank == 0)
        {
            if (forward) y[0] = x[0];
            else dx[0] += dy[0];
            return;
        }
        Span<int> counter = stackalloc int[rank];
        int width = ys[rank - 1], inWidth = xs[rank - 1], before = (int)pads[rank - 1];
        int rows = output.Length / width;
        for (int r = 0; r < rows; r++)
        {
            // The input row this output row reads: each outer coordinate maps through Source, or the row is padding.
            int rowOffset = 0;
            bool padding = false;
            for (int d = 0; d < rank - 1; d++)
            {
                int s = Source(counter[d], (int)pads[d], xs[d]);
                if (s < 0) { padding = true; break; }
                rowOffset = rowOffset * xs[d] + s;
            }
            rowOffset *= inWidth;
            int at = r * width;
            for (int j = 0; j < width; j++)
            {
                int s = padding ? -1 : Source(j, before, inWidth);
                if (forward) y[at + j] = s < 0 ? value : x[rowOffset + s];
                else if (s >= 0) dx[rowOffset + s] += dy[at + j];
            }
            for (int d = rank - 2; d >= 0; d--)
            {
                if (++counter[d] < ys[d]) break;
                counter[d] = 0;
            }
        }
    }
}
